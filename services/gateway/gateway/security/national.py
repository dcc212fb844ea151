"""The national commercial cryptography the interface uses where a region requires it (docs/interface.md,
"National cryptography"): SM3 (GM/T 0004) hashing, SM3-with-SM2 (GM/T 0003) signatures and SM4 (GM/T 0002)
encryption, on the maintained pure-Python ``gmssl`` package, in the forms public HIS code sends them:

- a signature is ``r || s`` (32 bytes each), Base64 in ``cainfo``, over the UTF-8 text signed, with the
  default signer id ``1234567812345678``;
- encryption is SM4-ECB with PKCS#7 padding under a 16-byte key, Base64 in ``input`` / ``output``.

``tests/gateway/test_national_crypto.py`` checks these against the standards' example values. Two details
of ``gmssl`` are worked around here: its random ``k`` for a signature comes from ``random`` (not a secure
source: ``k`` is drawn with ``secrets`` and passed in), and its padding removal checks nothing (padding is
added and checked here, so a wrong key is an error rather than garbage)."""

from __future__ import annotations

import base64
import binascii
import functools
import secrets

from gmssl import sm2, sm3, sm4

#: The signer id both sides use when none is agreed (GM/T 0003.5 example; BouncyCastle's default).
DEFAULT_ID = b"1234567812345678"
_N = int(sm2.default_ecc_table["n"], 16)
BLOCK = 16


class CryptoError(ValueError):
    """Cipher text or a key that cannot be what it claims (wrong length, padding, encoding)."""


def sm3_hex(data: bytes) -> str:
    """SM3 digest, lower-case hex."""
    return str(sm3.sm3_hash(list(data)))


def _public_hex(public_key: str) -> str:
    """A public key as 128 hex digits (x || y), accepting the uncompressed ``04`` prefix."""
    key = public_key.strip().lower()
    if len(key) == 130 and key.startswith("04"):
        key = key[2:]
    if len(key) != 128:
        raise CryptoError("SM2 公钥应为 64 字节 (x||y) 或 04||x||y 的十六进制")
    try:
        bytes.fromhex(key)
    except ValueError as exc:
        raise CryptoError("SM2 公钥不是十六进制") from exc
    return key


def _signer(private_key: str, public_key: str) -> sm2.CryptSM2:
    crypt = sm2.CryptSM2(private_key=private_key, public_key=public_key)
    # gmssl strips a leading "04" with lstrip, which also eats the key's own leading 0s and 4s: set as is.
    crypt.public_key = public_key
    return crypt


@functools.lru_cache(maxsize=64)
def sm2_public_key(private_key: str) -> str:
    """The public key (128 hex digits) of a private key (64 hex digits); kept for the gateway's own key,
    which signs every sealed answer."""
    d = int(private_key, 16)
    if not 0 < d < _N - 1:
        raise CryptoError("SM2 私钥超出范围")
    point: str = _signer(private_key, "0" * 128)._kg(d, sm2.default_ecc_table["g"])
    return point


def generate_private_key() -> str:
    return f"{secrets.randbelow(_N - 2) + 1:064x}"


def sm2_sign(message: bytes, private_key: str, *, k: str | None = None) -> bytes:
    """SM3-with-SM2 signature ``r || s`` (64 bytes) of ``message`` with the default signer id. ``k`` (hex)
    only for the standard's example; otherwise a fresh secret one each time."""
    crypt = _signer(private_key, sm2_public_key(private_key))
    while True:
        nonce = k or f"{secrets.randbelow(_N - 1) + 1:064x}"
        signature = crypt.sign_with_sm3(message, nonce)
        if signature is not None:
            return bytes.fromhex(signature)
        if k is not None:
            raise CryptoError("该随机数 k 不能用于签名")


def sm2_verify(message: bytes, signature: bytes, public_key: str) -> bool:
    """Whether ``signature`` (``r || s``) is the key's SM3-with-SM2 signature of ``message``."""
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        return False
    crypt = _signer("0" * 64, _public_hex(public_key))
    return bool(crypt.verify_with_sm3(signature.hex(), message))


def _cipher(key: bytes, mode: int) -> sm4.CryptSM4:
    if len(key) != BLOCK:
        raise CryptoError("SM4 密钥应为 16 字节")
    crypt = sm4.CryptSM4(padding_mode=-1)  # neither gmssl padding: done and checked here
    crypt.set_key(key, mode)
    return crypt


def sm4_encrypt(plain: bytes, key: bytes) -> bytes:
    """SM4-ECB with PKCS#7 padding."""
    pad = BLOCK - len(plain) % BLOCK
    cipher: bytes = _cipher(key, sm4.SM4_ENCRYPT).crypt_ecb(plain + bytes([pad]) * pad)
    return cipher


def sm4_decrypt(cipher: bytes, key: bytes) -> bytes:
    """The plain text, or ``CryptoError`` when the length or the padding is wrong (a wrong key, mostly)."""
    if not cipher or len(cipher) % BLOCK:
        raise CryptoError("SM4 密文长度应为 16 字节的整数倍")
    plain: bytes = _cipher(key, sm4.SM4_DECRYPT).crypt_ecb(cipher)
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise CryptoError("SM4 解密后填充不正确")
    return plain[:-pad]


def sm4_block(block: bytes, key: bytes) -> bytes:
    """One block enciphered, no padding (the standard's example is one block)."""
    if len(block) != BLOCK:
        raise CryptoError("SM4 分组应为 16 字节")
    cipher: bytes = _cipher(key, sm4.SM4_ENCRYPT).crypt_ecb(block)
    return cipher


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("不是合法的 Base64 文本") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
