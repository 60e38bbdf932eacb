"""Just enough Edwards25519 arithmetic (RFC 8032 §5.1, reference code of §6) to decode points
and tell small-order ones apart, which `cryptography` does not expose. The signature check
itself is OpenSSL's, through `cryptography`."""

from __future__ import annotations

from typing import Optional, Tuple

P = 2**255 - 19
#: Order of the base point, ℓ.
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = Tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)


def decompress(s: bytes) -> Optional[Point]:
    """RFC 8032 §5.1.3; ``None`` when ``s`` is not the encoding of a curve point (including
    non-canonical encodings with y ≥ p)."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        if sign:
            return None
        x = 0
    else:
        x = pow(x2, (P + 3) // 8, P)
        if (x * x - x2) % P != 0:
            x = x * SQRT_M1 % P
        if (x * x - x2) % P != 0:
            return None
        if (x & 1) != sign:
            x = P - x
    return (x, y, 1, x * y % P)


def _add(p: Point, q: Point) -> Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def is_small_order(p: Point) -> bool:
    """True when 8·P is the neutral element (P lies in the torsion subgroup)."""
    for _ in range(3):
        p = _add(p, p)
    x, y, z, _ = p
    return x % P == 0 and (y - z) % P == 0
