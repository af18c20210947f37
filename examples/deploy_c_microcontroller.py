"""
Deploying a forecaster as dependency-free C
===========================================

Fits an :class:`~sbt_sklearn.SBTForecaster` on the ETTh1 sample, writes its C99 inference code with
``export_c`` (one ``.c`` and one ``.h``: bit-packed sparse-binary layers, no heap, nothing beyond
``<math.h>`` and ``<stdint.h>``), compiles it together with a minimal ``main.c`` with the host's C
compiler and checks that the program prints what ``predict`` returns. The same two files build for a
microcontroller (see the user guide page "Deploying to a microcontroller"). About 30 s on 2 CPU cores
(``SBT_EXAMPLES_QUICK=1``: a few seconds); without a C compiler the script stops after the export.
"""

import os
import shutil
import subprocess
import tempfile

import numpy as np

from sbt_sklearn import SBTForecaster, sliding_windows
from sbt_sklearn.data import load_sample_etth1

quick = os.environ.get("SBT_EXAMPLES_QUICK") == "1"
values = load_sample_etth1().to_numpy(dtype=np.float32)[: 2000 if quick else 8640]
X, y = sliding_windows(values, 48)
forecaster = SBTForecaster(p=0.5, max_epochs=2 if quick else 10, random_state=0).fit(X, y)

out_dir = tempfile.mkdtemp(prefix="sbt_c_")
info = forecaster.export_c(out_dir, name="etth1")
print(f"wrote {info['source']} and {info['header']}")
print(f"constant tables: {info['flash_bytes']:,} bytes; working memory: {info['ram_bytes']:,} bytes "
      f"(independent of the window: step-T attention is streamed)")

# %%
# A minimal program: the last 48 rows of the series, oldest first, one row of 7 channels after another.
window = values[-48:]
rows = ", ".join(f"{v:.8e}f" for v in window.reshape(-1))  # 9 significant digits: exact float32
main_c = f"""#include <stdio.h>
#include "etth1.h"

static const float window[48 * ETTH1_N_CHANNELS] = {{{rows}}};

int main(void)
{{
    float next_row[ETTH1_N_OUTPUTS];
    int c, status = etth1_predict(window, 48, 0, 48, next_row);
    if (status != 0) {{
        return 1;
    }}
    for (c = 0; c < ETTH1_N_OUTPUTS; ++c) {{
        printf("%.9g\\n", next_row[c]);
    }}
    return 0;
}}
"""
with open(os.path.join(out_dir, "main.c"), "w") as fh:
    fh.write(main_c)

compiler = shutil.which("gcc") or shutil.which("cc")
if compiler is None:
    print("no C compiler found (install gcc): stopping after the export")
else:
    exe = os.path.join(out_dir, "forecast")
    subprocess.run([compiler, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-I", out_dir, "-o", exe,
                    os.path.join(out_dir, "main.c"), info["source"], "-lm"], check=True)
    printed = np.array(subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split(), float)
    expected = forecaster.predict(window.T[None])[0]
    print("C:     ", np.round(printed, 4))
    print("Python:", np.round(expected, 4))
    print(f"largest relative difference: {np.max(np.abs(printed - expected) / np.abs(expected)):.1e}")
    assert np.allclose(printed, expected, rtol=1e-4)
