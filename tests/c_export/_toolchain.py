"""Compile and run small C99 programs on the host and on an emulated Cortex-M4 (QEMU ``mps2-an386``).

For the tests of generated C code: a test writes its ``main.c`` (inputs as static const data, results
printed with ``printf("%.9g\\n", ...)``), builds it with the generated ``.c`` for both targets, runs
both and compares the printed numbers (:func:`parse_numbers`).

Host: ``gcc`` with :data:`HOST_FLAGS` and ``-lm`` (Debian packages ``gcc`` and ``libc6-dev``).

Cortex-M4: ``arm-none-eabi-gcc`` (Debian ``gcc-arm-none-eabi``) with newlib and its semihosting
library librdimon (``libnewlib-arm-none-eabi``), the startup code and linker script in ``mps2/``,
run by ``qemu-system-arm -M mps2-an386`` (``qemu-system-arm``). printf reaches QEMU's stdout through
semihosting; main's return value (or ``exit()``'s argument) becomes QEMU's exit status. The startup
code also prints ``mps2: exit status N, stack peak bytes M`` on QEMU's stderr (see
:func:`run_qemu_with_stack`), and any fault ends QEMU with status 128 + exception number, e.g. 131
for a HardFault, after printing the faulting PC.

Every process runs in its own process group with a timeout; on timeout the whole group is killed
and an AssertionError carries whatever output there was. Failures are AssertionErrors, so that
pytest shows them as test failures with the compiler's or the program's full output.

Tests skip when a toolchain is missing::

    reason = arm_toolchain_missing()
    if reason:
        pytest.skip(reason)
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

HOST_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")
"""Flags for the host build (gcc). ``-std=c99`` also means ``-ffp-contract=off``: no fused multiply-add."""

HOST_CC = "gcc"

ARM_CPU_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")
"""Cortex-M4 with its single-precision FPU, hard-float calling convention."""

ARM_FLAGS = HOST_FLAGS + ARM_CPU_FLAGS + ("-ffunction-sections", "-fdata-sections")
"""Compile flags for the Cortex-M4 build: the host's warnings and optimisation, plus the CPU."""

ARM_LINK_FLAGS = ("--specs=rdimon.specs", "-nostartfiles", "-Wl,--gc-sections")
"""newlib with semihosting (librdimon), our own startup code instead of newlib's crt0, unused code dropped."""

ARM_CC = "arm-none-eabi-gcc"
ARM_SIZE = "arm-none-eabi-size"
QEMU = "qemu-system-arm"

MPS2_DIR = Path(__file__).resolve().parent / "mps2"
STARTUP_C = MPS2_DIR / "startup.c"
LINKER_SCRIPT = MPS2_DIR / "mps2_an386.ld"

# the mps2-an386 memory map as QEMU builds it (see mps2/mps2_an386.ld)
FLASH_BYTES = 4 * 1024 * 1024  # ZBT SSRAM1 at 0x00000000: code, read-only data, .data's initial values
RAM_BYTES = 4 * 1024 * 1024  # ZBT SSRAM2&3 at 0x20000000: stack, .data, .bss, heap
STACK_BYTES = 64 * 1024  # STACK_SIZE in the linker script

QEMU_ARGS = (
    "-M", "mps2-an386",
    "-nodefaults",  # no default serial/parallel/monitor/network devices
    "-nographic",  # no display
    "-monitor", "none",
    "-serial", "null",  # the UART is unused: output goes through semihosting
    "-nic", "none",  # no network backend (QEMU warns "nic lan9118.0 has no peer": harmless)
    "-no-reboot",  # a reset request ends QEMU instead of restarting the program
    "-semihosting-config", "enable=on,target=native",
)
"""QEMU's options before ``-kernel ELF``: nothing is displayed, listened on or networked."""

COMPILE_TIMEOUT = 300
"""Seconds allowed for one compile and link (generated code with large weight tables is slow to compile)."""

_EXIT_LINE = re.compile(r"mps2: exit status (-?\d+), stack peak bytes (\d+)")

_HOST_PACKAGES = "gcc libc6-dev"
_ARM_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"


# ---------------------------------------------------------------------------------------------
# processes


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group that ``proc`` leads (it was started with start_new_session=True)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run(cmd: Sequence[str], *, timeout: float, what: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``cmd`` in a new process group, stdin closed; (returncode, stdout, stderr).

    On timeout (or an interrupt) the whole group is killed; a timeout raises an AssertionError with
    the output so far.
    """
    proc = subprocess.Popen(
        [str(c) for c in cmd], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a process outside the group holds the pipes
            proc.kill()
            proc.wait()
            out, err = b"", b""
        raise AssertionError(
            f"{what} timed out after {timeout} s and was killed: {_show_cmd(cmd)}\n"
            f"--- stdout ---\n{_text(out)}\n--- stderr ---\n{_text(err)}"
        ) from None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    return proc.returncode, _text(out), _text(err)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def _show_cmd(cmd: Sequence[str]) -> str:
    return " ".join(str(c) for c in cmd)


def _paths(c_files: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(c_files, (str, os.PathLike)):
        c_files = [c_files]
    paths = [Path(f) for f in c_files]
    if not paths:
        raise ValueError("no C files given")
    return paths


def _status_text(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


# ---------------------------------------------------------------------------------------------
# what is installed


@functools.cache
def host_compiler_missing() -> str | None:
    """None when ``gcc`` compiles, links (``-lm``) and runs a C99 program here; else why not, for pytest.skip."""
    if shutil.which(HOST_CC) is None:
        return f"no host C compiler ({HOST_CC} not on PATH): install the Debian packages {_HOST_PACKAGES}"
    with tempfile.TemporaryDirectory(prefix="c_export_probe_") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(
            "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n"
            'int main(void) { volatile float x = 2.0f; printf("%.9g\\n", (double)sqrtf(x)); return 0; }\n'
        )
        try:
            exe = compile_host([src], tmp, timeout=120)
            out = run_host(exe, timeout=30)
        except AssertionError as error:
            lines = str(error).strip().splitlines()
            why = next((line for line in lines if "error:" in line), lines[-1] if lines else "").strip()
            return (f"the host C compiler cannot build a C99 program with <math.h> ({why}): "
                    f"install the Debian packages {_HOST_PACKAGES}")
    if out.strip() != "1.41421354":
        return f"the host C compiler's program printed {out.strip()!r} for sqrtf(2), expected 1.41421354"
    return None


@functools.cache
def arm_toolchain_missing() -> str | None:
    """None when the Cortex-M4 cross compiler, newlib and QEMU's mps2-an386 are usable; else why not."""
    missing = [(tool, package) for tool, package in (
        (ARM_CC, "gcc-arm-none-eabi"), (ARM_SIZE, "binutils-arm-none-eabi (with gcc-arm-none-eabi)"),
        (QEMU, "qemu-system-arm"),
    ) if shutil.which(tool) is None]
    if missing:
        tools = ", ".join(tool for tool, _ in missing)
        return (f"Cortex-M4 toolchain missing ({tools} not on PATH): install the Debian packages "
                f"{_ARM_PACKAGES}")
    code, out, err = _run([ARM_CC, *ARM_CPU_FLAGS, "-print-file-name=librdimon.a"], timeout=60,
                          what="arm-none-eabi-gcc -print-file-name")
    if code != 0 or not Path(out.strip()).is_file():
        return ("newlib for arm-none-eabi (librdimon.a) not found: install the Debian package "
                "libnewlib-arm-none-eabi")
    code, out, err = _run([QEMU, "-M", "help"], timeout=60, what="qemu-system-arm -M help")
    if code != 0 or not re.search(r"^mps2-an386\s", out, re.MULTILINE):
        return f"{QEMU} has no mps2-an386 board: install Debian's qemu-system-arm (QEMU >= 4.0)"
    return None


# ---------------------------------------------------------------------------------------------
# host


def compile_host(c_files, out_dir, *, include_dirs=(), extra_flags=(), timeout: float = COMPILE_TIMEOUT) -> Path:
    """Compile and link C files for the host with ``gcc`` :data:`HOST_FLAGS` ``-lm``; the executable.

    ``c_files``: a path or paths; the executable is ``out_dir/<first file's stem>``. Raises an
    AssertionError with the command and the compiler's full stderr when the build fails (any
    warning fails it: -Werror).
    """
    paths = _paths(c_files)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / paths[0].stem
    cmd = [HOST_CC, *HOST_FLAGS, *extra_flags, *(f"-I{d}" for d in include_dirs), *paths, "-o", exe, "-lm"]
    code, out, err = _run(cmd, timeout=timeout, what="host compile")
    if code != 0:
        raise AssertionError(f"host compile failed ({_status_text(code)}): {_show_cmd(cmd)}\n{out}{err}")
    return exe


def run_host(exe, *, timeout: float = 60) -> str:
    """Run a host executable (no arguments, stdin closed); its stdout.

    Raises an AssertionError with stdout and stderr when it exits with a non-zero status, is killed
    by a signal, or runs longer than ``timeout`` seconds (then its process group is killed).
    """
    exe = Path(exe).resolve()
    code, out, err = _run([exe], timeout=timeout, what=f"host program {exe.name}")
    if code != 0:
        raise AssertionError(f"host program {exe} failed ({_status_text(code)})\n"
                             f"--- stdout ---\n{out}\n--- stderr ---\n{err}")
    return out


# ---------------------------------------------------------------------------------------------
# Cortex-M4 under QEMU


def compile_arm(c_files, out_dir, *, include_dirs=(), timeout: float = COMPILE_TIMEOUT) -> Path:
    """Compile and link C files with ``mps2/startup.c`` into an ELF for QEMU's mps2-an386; its path.

    Flags: :data:`ARM_FLAGS` (the host's C99, warnings as errors, -O2; Cortex-M4 hard float),
    :data:`ARM_LINK_FLAGS`, ``-T mps2/mps2_an386.ld``, ``-lm``. The ELF is
    ``out_dir/<first file's stem>.elf``. Raises an AssertionError with the command and the full
    compiler/linker stderr when the build fails (also when the program does not fit the board).
    """
    paths = _paths(c_files)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    elf = out_dir / f"{paths[0].stem}.elf"
    cmd = [ARM_CC, *ARM_FLAGS, *(f"-I{d}" for d in include_dirs), *ARM_LINK_FLAGS, "-T", LINKER_SCRIPT,
           STARTUP_C, *paths, "-o", elf, "-lm"]
    code, out, err = _run(cmd, timeout=timeout, what="arm compile")
    if code != 0:
        raise AssertionError(f"arm compile failed ({_status_text(code)}): {_show_cmd(cmd)}\n{out}{err}")
    return elf


def arm_size(elf) -> dict:
    """Section sizes of an ELF from ``arm-none-eabi-size``, in bytes.

    ``text`` (code, read-only data, vector table), ``data`` (initialised variables), ``bss`` (zeroed
    variables *and* the :data:`STACK_BYTES` stack reserve), plus ``stack`` (that reserve),
    ``flash`` = text + data (what the code memory holds) and ``ram`` = data + bss. newlib's heap use
    (stdio buffers) is not included; the startup code, newlib's printf and libm are (compare with a
    baseline program to isolate generated code).
    """
    code, out, err = _run([ARM_SIZE, "-B", "-d", elf], timeout=60, what="arm-none-eabi-size")
    if code != 0:
        raise AssertionError(f"arm-none-eabi-size failed on {elf}:\n{out}{err}")
    lines = out.strip().splitlines()
    text, data, bss = (int(v) for v in lines[1].split()[:3])
    code, out, err = _run([ARM_SIZE, "-A", "-d", elf], timeout=60, what="arm-none-eabi-size -A")
    if code != 0:
        raise AssertionError(f"arm-none-eabi-size -A failed on {elf}:\n{out}{err}")
    stack = next((int(line.split()[1]) for line in out.splitlines() if line.startswith(".stack ")), 0)
    return {"text": text, "data": data, "bss": bss, "stack": stack, "flash": text + data, "ram": data + bss}


def run_qemu_with_stack(elf, *, timeout: float = 120) -> tuple[str, int]:
    """Run an ELF from :func:`compile_arm` under QEMU; (stdout, peak stack use in bytes).

    The peak comes from the stack painted at reset (includes newlib's printf). Raises an
    AssertionError with stdout and stderr when main returns (or exit()s with) a non-zero status,
    the program faults (status 128 + exception number), QEMU fails or stops without the program's
    exit, or it runs longer than ``timeout`` seconds (then QEMU is killed).
    """
    elf = Path(elf).resolve()
    cmd = [QEMU, *QEMU_ARGS, "-kernel", elf]
    code, out, err = _run(cmd, timeout=timeout, what=f"QEMU running {elf.name}")
    exit_line = _EXIT_LINE.search(err)
    if code != 0 or exit_line is None:
        if code == 0:
            why = "QEMU stopped without the program's exit (no 'mps2: exit status' line)"
        elif exit_line is not None:
            why = f"main exited with status {exit_line.group(1)} (QEMU {_status_text(code)})"
        elif code > 128 and "mps2: unexpected exception" in err:
            why = f"the program faulted (QEMU {_status_text(code)})"
        else:
            why = f"QEMU failed ({_status_text(code)})"
        raise AssertionError(f"{why}: {_show_cmd(cmd)}\n--- stdout ---\n{out}\n--- stderr ---\n{err}")
    return out, int(exit_line.group(2))


def run_qemu(elf, *, timeout: float = 120) -> str:
    """Run an ELF from :func:`compile_arm` under QEMU; its stdout. Raises as :func:`run_qemu_with_stack`."""
    return run_qemu_with_stack(elf, timeout=timeout)[0]


# ---------------------------------------------------------------------------------------------
# output


def parse_numbers(text: str) -> np.ndarray:
    """The numbers a program printed, one per line (``"%.9g"``), as a float64 array.

    Blank lines are ignored; ``nan``/``-nan``/``inf`` are accepted. Raises ValueError naming the
    first line that is not a number.
    """
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            values.append(float(line))
        except ValueError:
            raise ValueError(f"line {number} is not a number: {line!r}") from None
    return np.asarray(values, dtype=np.float64)
