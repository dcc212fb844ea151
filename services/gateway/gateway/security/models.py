from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field

from gateway.db import Base
from shared.db import AwareDateTime, BigIntPK, utcnow


class Institution(Base, table=True):
    """A designated institution allowed to call the gateway, and its credentials for the region's signature
    scheme (``x-tif-paasid`` names it; the secret signs its requests and so must be kept readable here)."""

    __tablename__ = "his_institution"

    fixmedins_code: str = Field(primary_key=True, max_length=30)
    fixmedins_name: str = Field(max_length=200)
    paasid: str = Field(max_length=64, unique=True)
    secret: str = Field(max_length=200)
    #: Requests per minute; None = the gateway's default (``GATEWAY_RATE_LIMIT_PER_MINUTE``).
    rate_limit_per_minute: int | None = Field(default=None)
    active: bool = True
    #: The national cryptography of its envelopes (docs/interface.md, "National cryptography"): ``none``
    #: (the transport signature alone), ``sm2`` (an SM3-with-SM2 signature in ``cainfo``), ``sm4``
    #: (``input`` and ``output`` SM4-encrypted) or ``sm2-sm4`` (both).
    envelope_crypto: str = Field(default="none", max_length=8, sa_column_kwargs={"server_default": "none"})
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class InstitutionKey(Base, table=True):
    """A key of an institution held by the gateway: its SM2 public key (verifies its ``cainfo``) or an SM4
    key (decrypts its ``input``, encrypts the answer). Every key of a kind valid now is tried, so a new key
    is added before the old one ends and both work during the overlap: a rotation without downtime."""

    __tablename__ = "his_institution_key"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30, index=True)
    #: ``sm2_public`` (128 hex digits, x||y) or ``sm4`` (32 hex digits).
    kind: str = Field(max_length=12)
    key: str = Field(max_length=200)
    valid_from: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    #: None: until another key's rotation ends it.
    valid_until: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class SignIn(Base, table=True):
    """9001 sign-in: a ``sign_no`` bound to an institution and an operator until 9002 signs it out."""

    __tablename__ = "his_sign_in"

    sign_no: str = Field(primary_key=True, max_length=30)
    fixmedins_code: str = Field(max_length=30, index=True)
    opter: str = Field(max_length=30)
    mac: str | None = Field(default=None, max_length=20)
    ip: str = Field(max_length=40)
    signed_in_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    signed_out_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))


class SeenNonce(Base, table=True):
    """Nonces accepted within the timestamp window; a second request with one of them is a replay."""

    __tablename__ = "his_nonce"

    paasid: str = Field(primary_key=True, max_length=64)
    nonce: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False, index=True))
