"""``optional-toctree``: a toctree whose entries may not exist (yet), plus ``*`` for the rest.

The user guide lists its pages in a preferred order; pages written later (for example the
forecasting guide) appear in their place once the file exists, and any other page of the folder
is appended by ``*`` in alphabetical order. Missing entries are skipped silently instead of
failing a ``-W`` build.
"""

from __future__ import annotations

from docutils.statemachine import StringList
from sphinx.directives.other import TocTree
from sphinx.util import docname_join
from sphinx.util.osutil import SEP


class OptionalTocTree(TocTree):
    def run(self):
        env = self.env
        here = env.docname
        folder = here.rsplit(SEP, 1)[0] + SEP if SEP in here else ""
        listed, entries = set(), []
        for line in self.content:
            entry = line.strip()
            if not entry:
                continue
            if entry == "*":
                rest = sorted(d for d in env.found_docs
                              if d.startswith(folder) and SEP not in d[len(folder):]
                              and d != here and d not in listed)
                entries += [d[len(folder):] for d in rest]
                listed.update(rest)
                continue
            docname = docname_join(here, entry)
            if docname in env.found_docs and docname not in listed:
                entries.append(entry)
                listed.add(docname)
        self.content = StringList(entries, source=self.content.source(0) if self.content else "")
        self.options.pop("glob", None)
        return super().run()


def _reread_on_new_pages(app, env, added, changed, removed):
    """Pages with an optional-toctree depend on which pages exist: re-read them when that changes."""
    if not added and not removed:
        return []
    users = []
    for docname in env.found_docs:
        path = env.doc2path(docname)
        try:
            if ".. optional-toctree::" in open(path, encoding="utf-8").read():
                users.append(docname)
        except OSError:
            continue
    return users


def setup(app):
    app.add_directive("optional-toctree", OptionalTocTree)
    app.connect("env-get-outdated", _reread_on_new_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
