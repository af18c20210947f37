"""The C test harness (``_toolchain.py``): host gcc and the emulated Cortex-M4 (QEMU mps2-an386).

A small C99 program in the style of the generated code's tests (inputs as static const data, results
printed with "%.9g") runs on both targets; its numbers are checked against numpy and against each
other. Also: a non-zero exit status, a fault, a hang and a compile warning are reported as failures;
the ELF fits the board; printed output arrives complete. Tests skip, naming the Debian packages, when
a toolchain is missing.
"""

import numpy as np
import pytest
from _toolchain import (
    FLASH_BYTES,
    RAM_BYTES,
    STACK_BYTES,
    arm_size,
    arm_toolchain_missing,
    compile_arm,
    compile_host,
    host_compiler_missing,
    parse_numbers,
    run_host,
    run_qemu,
    run_qemu_with_stack,
)

TARGETS = ("host", "arm")


def _skip_unless(target):
    reason = host_compiler_missing() if target == "host" else arm_toolchain_missing()
    if reason:
        pytest.skip(reason)


def _build_and_run(target, source, out_dir, *, timeout=None):
    """Write ``source`` to out_dir/main.c, build it for ``target``, run it; its stdout."""
    _skip_unless(target)
    out_dir.mkdir(parents=True, exist_ok=True)
    c_file = out_dir / "main.c"
    c_file.write_text(source)
    if target == "host":
        exe = compile_host([c_file], out_dir)
        return run_host(exe) if timeout is None else run_host(exe, timeout=timeout)
    elf = compile_arm([c_file], out_dir)
    return run_qemu(elf) if timeout is None else run_qemu(elf, timeout=timeout)


def _c_floats(values):
    # "%.9g" round-trips a float32 exactly
    return ", ".join(f"{float(v):.9g}f" for v in values)


def _c_words(words):
    return ", ".join(f"0x{int(w):08X}u" for w in words)


# ---------------------------------------------------------------------------------------------
# the numeric program

_RNG = np.random.default_rng(20240611)
EXP_IN = _RNG.uniform(-8.0, 8.0, 8).astype(np.float32)
SQRT_IN = _RNG.uniform(0.01, 100.0, 8).astype(np.float32)
SIN_IN = _RNG.uniform(0.2, 3.0, 8).astype(np.float32)  # away from the zeros of sin
LOGITS = _RNG.normal(0.0, 3.0, 10).astype(np.float32)
DOT_X = _RNG.normal(0.0, 1.0, 64).astype(np.float32)
SIGN_WORDS = _RNG.integers(0, 2**32, size=(2, 2), dtype=np.uint64)  # two sign vectors of 64 bits

NUMERIC_PROGRAM = f"""
#include <math.h>
#include <stdint.h>
#include <stdio.h>

static const float exp_in[8] = {{{_c_floats(EXP_IN)}}};
static const float sqrt_in[8] = {{{_c_floats(SQRT_IN)}}};
static const float sin_in[8] = {{{_c_floats(SIN_IN)}}};
static const float logits[10] = {{{_c_floats(LOGITS)}}};
static const float dot_x[64] = {{{_c_floats(DOT_X)}}};
static const uint32_t sign_words[2][2] = {{{{{_c_words(SIGN_WORDS[0])}}}, {{{_c_words(SIGN_WORDS[1])}}}}};

static float scratch[10];      /* a static buffer (.bss) */
static int32_t initialised = 41; /* .data: copied from flash at reset */

static void softmax(const float *x, float *y, int n)
{{
    float max = x[0], sum = 0.0f;
    int i;
    for (i = 1; i < n; ++i) {{
        if (x[i] > max) {{
            max = x[i];
        }}
    }}
    for (i = 0; i < n; ++i) {{
        y[i] = expf(x[i] - max);
        sum += y[i];
    }}
    for (i = 0; i < n; ++i) {{
        y[i] /= sum;
    }}
}}

/* sum of +x[i] where bit i of the packed signs is 1, -x[i] where it is 0 */
static float signed_dot(const float *x, const uint32_t *signs, int n)
{{
    float acc = 0.0f;
    int i;
    for (i = 0; i < n; ++i) {{
        uint32_t bit = (signs[i >> 5] >> ((uint32_t)i & 31u)) & 1u;
        acc += bit ? x[i] : -x[i];
    }}
    return acc;
}}

int main(void)
{{
    int i;
    for (i = 0; i < 8; ++i) {{
        printf("%.9g\\n", (double)expf(exp_in[i]));
    }}
    for (i = 0; i < 8; ++i) {{
        printf("%.9g\\n", (double)sqrtf(sqrt_in[i]));
    }}
    for (i = 0; i < 8; ++i) {{
        printf("%.9g\\n", (double)sinf(sin_in[i]));
    }}
    softmax(logits, scratch, 10);
    for (i = 0; i < 10; ++i) {{
        printf("%.9g\\n", (double)scratch[i]);
    }}
    for (i = 0; i < 2; ++i) {{
        printf("%.9g\\n", (double)signed_dot(dot_x, sign_words[i], 64));
    }}
    initialised += 1;
    printf("%.9g\\n", (double)initialised);
    return 0;
}}
"""


def _expected_numbers():
    """What the program should print, from numpy (float32 where the C accumulates in float32)."""
    x64 = np.float64
    logits_shifted = LOGITS - LOGITS.max()  # float32 subtraction, as in C
    e = np.exp(logits_shifted.astype(x64))
    dots = []
    for words in SIGN_WORDS:
        acc = np.float32(0.0)
        for i in range(64):
            bit = (int(words[i >> 5]) >> (i & 31)) & 1
            acc = np.float32(acc + (DOT_X[i] if bit else -DOT_X[i]))  # sequential float32 sum, as in C
        dots.append(acc)
    return np.concatenate([
        np.exp(EXP_IN.astype(x64)), np.sqrt(SQRT_IN.astype(x64)), np.sin(SIN_IN.astype(x64)),
        e / e.sum(), np.asarray(dots, dtype=x64), [42.0],
    ])


@pytest.fixture(scope="module")
def numeric_output(tmp_path_factory):
    """stdout of the numeric program per target, built and run once (a skip reason instead when missing)."""
    cache = {}

    def get(target):
        if target not in cache:
            reason = host_compiler_missing() if target == "host" else arm_toolchain_missing()
            cache[target] = ("skip", reason) if reason else (
                "ok", _build_and_run(target, NUMERIC_PROGRAM, tmp_path_factory.mktemp(f"numeric_{target}")))
        kind, value = cache[target]
        if kind == "skip":
            pytest.skip(value)
        return value

    return get


@pytest.mark.parametrize("target", TARGETS)
def test_numbers_match_numpy(numeric_output, target):
    got = parse_numbers(numeric_output(target))
    expected = _expected_numbers()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)


def test_host_and_arm_agree(numeric_output):
    host = parse_numbers(numeric_output("host"))
    arm = parse_numbers(numeric_output("arm"))
    assert host.shape == arm.shape == _expected_numbers().shape
    np.testing.assert_allclose(arm, host, rtol=1e-6, atol=0)


SWEEP_PROGRAM = """
#include <math.h>
#include <stdio.h>

int main(void)
{
    int i;
    for (i = 0; i < 1000; ++i) {
        float x = -10.0f + 20.0f * (float)i / 999.0f;
        float p = 0.001f + 20.0f * (float)i / 999.0f;
        printf("%.9g\\n%.9g\\n%.9g\\n%.9g\\n%.9g\\n", (double)expf(x), (double)sinf(x), (double)tanhf(x),
               (double)logf(p), (double)sqrtf(p));
    }
    return 0;
}
"""


def test_libm_sweep_host_vs_arm(tmp_path):
    """glibc's and newlib's float libm over 1000 arguments: at most 1 ulp apart (measured: expf, sinf and
    logf differ by 1 ulp for 5-10% of the arguments; newlib on a single-precision FPU uses the older
    float routines, glibc's are correctly rounded more often)."""
    host = parse_numbers(_build_and_run("host", SWEEP_PROGRAM, tmp_path / "host")).astype(np.float32)
    arm = parse_numbers(_build_and_run("arm", SWEEP_PROGRAM, tmp_path / "arm")).astype(np.float32)
    assert host.shape == arm.shape == (5000,)
    assert np.isfinite(host).all()
    ulps = np.abs(host.view(np.int32).astype(np.int64) - arm.view(np.int32).astype(np.int64))
    assert ulps.max() <= 1
    np.testing.assert_allclose(arm, host, rtol=1e-6, atol=0)


# ---------------------------------------------------------------------------------------------
# failures are reported, processes end

@pytest.mark.parametrize("target", TARGETS)
def test_nonzero_exit_status_is_a_failure(tmp_path, target):
    source = '#include <stdio.h>\nint main(void) { printf("1.5\\n"); return 3; }\n'
    with pytest.raises(AssertionError, match="status 3") as error:
        _build_and_run(target, source, tmp_path)
    assert "1.5" in str(error.value)  # the output so far comes with the failure


@pytest.mark.parametrize("target", TARGETS)
def test_compile_warning_is_a_failure_with_the_compiler_output(tmp_path, target):
    source = "int main(void) { int unused_variable; return 0; }\n"
    with pytest.raises(AssertionError, match="unused_variable"):
        _build_and_run(target, source, tmp_path)


@pytest.mark.parametrize("target", TARGETS)
def test_a_hang_is_killed_and_reported(tmp_path, target):
    source = "int main(void) { volatile int spin = 1; while (spin) { } return 0; }\n"
    with pytest.raises(AssertionError, match="timed out after 1 s"):
        _build_and_run(target, source, tmp_path, timeout=1)


def test_arm_fault_is_reported_not_hung(tmp_path):
    source = ("#include <stdint.h>\n"
              "int main(void) { volatile uint32_t *p = (volatile uint32_t *)0x30000000u; return (int)*p; }\n")
    with pytest.raises(AssertionError, match="faulted") as error:
        _build_and_run("arm", source, tmp_path, timeout=30)
    assert "unexpected exception 3" in str(error.value)  # HardFault (escalated BusFault), with its PC


# ---------------------------------------------------------------------------------------------
# the board

def test_arm_elf_fits_the_board(tmp_path):
    _skip_unless("arm")
    c_file = tmp_path / "main.c"
    c_file.write_text(NUMERIC_PROGRAM)
    elf = compile_arm([c_file], tmp_path)
    size = arm_size(elf)
    assert size["flash"] == size["text"] + size["data"] <= FLASH_BYTES
    assert size["ram"] == size["data"] + size["bss"] <= RAM_BYTES
    assert size["stack"] == STACK_BYTES and size["bss"] >= STACK_BYTES
    assert 1_000 < size["text"] < 200_000  # startup, the program, newlib's printf, libm
    output, stack_peak = run_qemu_with_stack(elf)
    assert len(parse_numbers(output)) == len(_expected_numbers())
    assert 0 < stack_peak < STACK_BYTES


@pytest.mark.parametrize("target", TARGETS)
def test_printf_of_100_lines_arrives_complete(tmp_path, target):
    source = """
#include <stdio.h>
int main(void)
{
    int i;
    for (i = 0; i < 100; ++i) {
        printf("%.9g\\n", (double)((float)i * 0.25f - 7.0f));
    }
    printf("%.9g", 1e30); /* no newline at the end: still flushed at exit */
    return 0;
}
"""
    got = parse_numbers(_build_and_run(target, source, tmp_path))
    np.testing.assert_array_equal(got, np.r_[np.arange(100) * 0.25 - 7.0, 1e30])
