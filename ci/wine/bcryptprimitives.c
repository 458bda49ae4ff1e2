/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Rust programs under Wine 8.0.
 *
 * Rust's std imports ProcessPrng from bcryptprimitives.dll, which Wine 8.0 does not ship, so
 * every Rust .exe fails to start there. This DLL exports ProcessPrng and forwards it to
 * advapi32's RtlGenRandom (exported as SystemFunction036). It is built by
 * ci/windows-tests.sh into the private Wine prefix only; nothing here ships with the crate.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
