/* Minimal startup for QEMU's mps2-an386 board (Cortex-M4 with FPU), newlib + semihosting (librdimon).
 *
 * Reset: set SP, enable the FPU (CPACR) before any floating-point instruction, paint the stack,
 * copy .data from flash, zero .bss, open the semihosting stdio handles, run static constructors,
 * then exit(main()). newlib's exit() flushes stdio and calls _exit() below, which prints
 *     mps2: exit status <n>, stack peak bytes <m>
 * on the semihosting console (QEMU's stderr) and ends QEMU with main's status as its exit status.
 *
 * Every other exception (faults included) prints its number, the stacked PC/LR and the fault
 * status registers on the semihosting console and ends QEMU with status 128 + number (HardFault:
 * 131), so a crashing program does not hang the emulator.
 *
 * Memory layout and the linker symbols used here: mps2_an386.ld. Compiled as C99 with
 * -Wall -Wextra -Werror together with the program under test.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- linker script symbols ---- */

extern uint32_t __stack_limit[]; /* lowest stack address */
extern uint32_t __stack_top[];   /* initial SP */
extern uint32_t __data_load__[]; /* initial values of .data, in flash */
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
extern char __heap_start[];
extern char __heap_end[];
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

/* ---- prototypes ---- */

int main(void);
void initialise_monitor_handles(void); /* librdimon: opens ":tt" as stdin/stdout/stderr */

void Reset_Handler(void) __attribute__((naked, noreturn));
void mps2_start(void) __attribute__((noreturn, used));
void mps2_default_handler(void) __attribute__((naked, noreturn, used));
void mps2_fault_report(const uint32_t *frame, uint32_t exception) __attribute__((noreturn, used));
void _exit(int status) __attribute__((noreturn));
void *_sbrk(ptrdiff_t increment);
void _init(void);
void _fini(void);

/* ---- semihosting (the ARM "Angel" interface: BKPT 0xAB on M-profile) ---- */

#define SYS_WRITE0 0x04u
#define SYS_EXIT 0x18u          /* angel_SWIreason_ReportException */
#define SYS_EXIT_EXTENDED 0x20u /* semihosting v2: carries an exit status (QEMU >= 4.0) */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN 0x20023u

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void semihost_exit(int status) __attribute__((noreturn));
static void semihost_exit(int status)
{
    if (status == 0) {
        /* the plain form: QEMU exits with status 0 */
        semihost(SYS_EXIT, (const void *)ADP_STOPPED_APPLICATION_EXIT);
    } else {
        /* QEMU exits with block[1] as its status */
        uint32_t block[2];
        block[0] = ADP_STOPPED_APPLICATION_EXIT;
        block[1] = (uint32_t)status;
        semihost(SYS_EXIT_EXTENDED, block);
        /* a host without the extension: at least report a failure */
        semihost(SYS_EXIT, (const void *)ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN);
    }
    for (;;) {
    }
}

/* text to the semihosting console, without stdio (usable after a fault) */
static void write_text(const char *text)
{
    semihost(SYS_WRITE0, text);
}

static void write_decimal(uint32_t value)
{
    char buffer[11];
    int i = 10;
    buffer[i] = '\0';
    do {
        buffer[--i] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    write_text(buffer + i);
}

static void write_hex(uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    char buffer[11];
    int i;
    buffer[0] = '0';
    buffer[1] = 'x';
    for (i = 0; i < 8; ++i) {
        buffer[2 + i] = digits[(value >> (28 - 4 * i)) & 0xFu];
    }
    buffer[10] = '\0';
    write_text(buffer);
}

/* ---- stack usage: the stack is painted at reset; the lowest overwritten word gives the peak ---- */

#define STACK_PAINT 0xA5C3E1F7u

static uint32_t stack_peak_bytes(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == STACK_PAINT) {
        ++p;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

/* ---- newlib hooks ---- */

/* newlib's exit() ends here once atexit handlers ran and stdio is flushed */
void _exit(int status)
{
    write_text("mps2: exit status ");
    if (status < 0) {
        write_text("-");
        write_decimal(0u - (uint32_t)status);
    } else {
        write_decimal((uint32_t)status);
    }
    write_text(", stack peak bytes ");
    write_decimal(stack_peak_bytes());
    write_text("\n");
    semihost_exit(status);
}

/* heap for newlib (stdio buffers, printf's number conversion), bounded by the linker script;
   replaces librdimon's weak _sbrk, which would compare against SP (the stack is below the heap) */
void *_sbrk(ptrdiff_t increment)
{
    static char *brk = __heap_start;
    char *previous = brk;
    if ((increment > 0 && __heap_end - brk < increment) || (increment < 0 && brk - __heap_start < -increment)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += increment;
    return previous;
}

/* crti.o/crtn.o normally provide these (not linked: -nostartfiles); newlib's exit() calls _fini */
void _init(void)
{
}

void _fini(void)
{
}

/* ---- reset ---- */

void Reset_Handler(void)
{
    /* no C before the FPU is on: under -mfloat-abi=hard the compiler may use FP registers anywhere */
    __asm__ volatile(
        "ldr r0, =__stack_top\n\t"
        "msr msp, r0\n\t"
        "ldr r0, =0xE000ED88\n\t" /* CPACR */
        "ldr r1, [r0]\n\t"
        "orr r1, r1, #(0xF << 20)\n\t" /* CP10 and CP11: full access */
        "str r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
        "b mps2_start\n\t"
        ".ltorg\n\t");
}

void mps2_start(void)
{
    const uint32_t *src = __data_load__;
    uint32_t *dst;
    uint32_t *sp;
    size_t i, n;
    /* paint the unused stack, up to 64 bytes below the current SP */
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (dst = __stack_limit; dst < sp - 16; ++dst) {
        *dst = STACK_PAINT;
    }
    for (dst = __data_start__; dst < __data_end__; ++dst) {
        *dst = *src++;
    }
    for (dst = __bss_start__; dst < __bss_end__; ++dst) {
        *dst = 0u;
    }
    initialise_monitor_handles();
    n = (size_t)(__preinit_array_end - __preinit_array_start);
    for (i = 0; i < n; ++i) {
        __preinit_array_start[i]();
    }
    n = (size_t)(__init_array_end - __init_array_start);
    for (i = 0; i < n; ++i) {
        __init_array_start[i]();
    }
    exit(main());
}

/* ---- faults and unexpected exceptions ---- */

/* the report runs on its own small stack: the main stack may be what failed */
uint64_t mps2_fault_stack[64] __attribute__((used));

void mps2_default_handler(void)
{
    /* r0 = the stacked frame (r0-r3, r12, lr, pc, xpsr), r1 = the exception number from IPSR */
    __asm__ volatile(
        "mrs r0, msp\n\t"
        "mrs r1, ipsr\n\t"
        "ubfx r1, r1, #0, #9\n\t" /* IPSR[8:0] */
        "ldr r2, =mps2_fault_stack + 512\n\t"
        "msr msp, r2\n\t"
        "b mps2_fault_report\n\t"
        ".ltorg\n\t");
}

void mps2_fault_report(const uint32_t *frame, uint32_t exception)
{
    volatile const uint32_t *cfsr = (volatile const uint32_t *)0xE000ED28u;
    volatile const uint32_t *hfsr = (volatile const uint32_t *)0xE000ED2Cu;
    volatile const uint32_t *bfar = (volatile const uint32_t *)0xE000ED38u;
    write_text("\nmps2: unexpected exception ");
    write_decimal(exception);
    write_text(" pc=");
    write_hex(frame[6]);
    write_text(" lr=");
    write_hex(frame[5]);
    write_text(" sp=");
    write_hex((uint32_t)(uintptr_t)frame);
    write_text(" cfsr=");
    write_hex(*cfsr);
    write_text(" hfsr=");
    write_hex(*hfsr);
    write_text(" bfar=");
    write_hex(*bfar);
    write_text("\n");
    semihost_exit(128 + (int)exception);
}

/* ---- vector table (at 0x00000000: the linker script puts .vectors first) ---- */

/* Cortex-M4: 16 system entries; the AN386 image has 32 external interrupts (none is enabled here) */
#define N_VECTORS (16 + 32)

__attribute__((section(".vectors"), used)) static void (*const vector_table[N_VECTORS])(void) = {
    (void (*)(void))(uintptr_t)__stack_top, /* 0: initial SP */
    Reset_Handler,                          /* 1: reset */
    [2 ... N_VECTORS - 1] = mps2_default_handler,
};
