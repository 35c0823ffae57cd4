#!/bin/sh
# savor picks OpenBLAS's fast kernels on CPUs that Debian's OpenBLAS does not
# recognise (it would fall back to generic ones), and respects OPENBLAS_CORETYPE.
. "$(dirname "$0")/lib.sh"

check "savor version runs" "$SAVOR" version
check_contains "it reports the BLAS kernels" "blas: OpenBLAS," "$TMP/out"

flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
if has avx512f && has avx512bw && has avx512vl && has avx512dq; then
    check_contains "an AVX-512 CPU gets SkylakeX kernels" "SkylakeX kernels" "$TMP/out"
elif has avx2 && has fma; then
    # OpenBLAS may know this CPU (then its own choice stands) or not (then Haswell).
    if grep -q -e "Prescott kernels" -e "Core2 kernels" -e "Nehalem kernels" "$TMP/out"; then
        _not_ok "an AVX2 CPU does not run generic kernels" "$(cat "$TMP/out")"
    else
        _ok "an AVX2 CPU does not run generic kernels"
    fi
else
    echo "# this CPU has neither AVX-512 nor AVX2: nothing to select"
fi

check "an explicit OPENBLAS_CORETYPE is respected" env OPENBLAS_CORETYPE=Prescott "$SAVOR" version
check_contains "it runs the kernels asked for" "Prescott kernels" "$TMP/out"
finish
