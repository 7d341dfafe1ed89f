"""Custody anchored beyond the database (DESIGN §12): checkpoints over every package's chain.

A **checkpoint** pins, at one moment, each package's chain by its length and head hash (a
:class:`Leaf`). The leaves, sorted by package id, are folded into a Merkle root (RFC 6962's tree
hash: SHA-256, leaves and inner nodes domain-separated by a 0x00 / 0x01 prefix, so a leaf can
never pass for a node). The checkpoint record — its number, time, root, package count and the
hash of the previous checkpoint — has canonical bytes that are signed with Ed25519 by a key the
database does not hold (the :class:`CheckpointSigner` port; adapters/crypto.py). The short form
(number, root, signature) is printed on ledgers and manifests, so paper held outside the system
pins the history.

Later, a package's chain *matches* a checkpoint's leaf when the chain has at least the leaf's
length and its event at that length has the leaf's head: a chain that only grew still matches; a
chain that was cut, edited, or rewritten with every hash recomputed does not. Rewriting the stored
leaves too changes the root, which no longer matches the signed one.

Pure: no I/O, standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from handoff.package import GENESIS_HASH
from handoff.timeutil import local_text, require_aware

CHECKPOINT_FORMAT = "handoff-custody-checkpoint/1"
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class CheckpointSigner(Protocol):
    """Signs checkpoints with a key kept outside the database, and checks signatures."""

    @property
    def public_key(self) -> bytes:
        """The raw public key (Ed25519: 32 bytes) that verifies this signer's signatures."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The signature of ``message``."""
        ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's signature of ``message``."""
        ...


@dataclass(frozen=True, order=True)
class Leaf:
    """One package's chain at a checkpoint: how many custody events, and the last one's hash."""

    package_id: str
    length: int
    head: str

    def canonical(self) -> bytes:
        return json.dumps([self.package_id, self.length, self.head], separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(leaf: Leaf) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf.canonical()).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def merkle_root(leaves: Iterable[Leaf]) -> str:
    """The Merkle tree hash (hex) of the leaves sorted by package id; a package id appears once.
    The empty tree's root is SHA-256 of nothing."""
    ordered = sorted(leaves, key=lambda leaf: leaf.package_id)
    ids = [leaf.package_id for leaf in ordered]
    if len(set(ids)) != len(ids):
        raise ValueError("a package appears twice among the leaves")
    if not ordered:
        return hashlib.sha256(b"").hexdigest()
    return _tree([leaf_hash(leaf) for leaf in ordered]).hex()


def _tree(hashes: Sequence[bytes]) -> bytes:
    # RFC 6962 §2.1: split at the largest power of two smaller than n.
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_tree(hashes[:split]), _tree(hashes[split:]))


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint. ``prev_hash`` is :meth:`digest` of checkpoint ``n - 1`` (zeros for
    the first); ``signature`` covers :meth:`canonical`, ``public_key`` is the key that made it."""

    n: int
    made_at: datetime
    root: str
    count: int
    prev_hash: str
    signature: bytes = b""
    public_key: bytes = b""

    def canonical(self) -> bytes:
        """The signed bytes: the record as sorted compact JSON, its format named inside."""
        return json.dumps(
            {
                "format": CHECKPOINT_FORMAT,
                "n": self.n,
                "time": require_aware(self.made_at).isoformat(),
                "root": self.root,
                "count": self.count,
                "prev": self.prev_hash,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    def digest(self) -> str:
        """What the next checkpoint names as its previous one."""
        return hashlib.sha256(self.canonical()).hexdigest()

    def short(self) -> str:
        """The footer line of ledgers and manifests."""
        return (
            f"存证检查点 No.{self.n}　根 {self.root[:16]}　签名 {self.signature.hex()[:16]}　{local_text(self.made_at)}"
        )


def make_checkpoint(
    *, previous: Checkpoint | None, leaves: Iterable[Leaf], at: datetime, signer: CheckpointSigner
) -> Checkpoint:
    """The next checkpoint after ``previous`` over ``leaves``, signed."""
    leaves = list(leaves)
    unsigned = Checkpoint(
        n=previous.n + 1 if previous else 1,
        made_at=require_aware(at).replace(microsecond=0),
        root=merkle_root(leaves),
        count=len(leaves),
        prev_hash=previous.digest() if previous else GENESIS_HASH,
    )
    return Checkpoint(
        n=unsigned.n,
        made_at=unsigned.made_at,
        root=unsigned.root,
        count=unsigned.count,
        prev_hash=unsigned.prev_hash,
        signature=signer.sign(unsigned.canonical()),
        public_key=signer.public_key,
    )


def checkpoint_problems(
    checkpoints: Sequence[Checkpoint],
    leaves_of: Callable[[int], Sequence[Leaf]],
    signer: CheckpointSigner,
) -> list[str]:
    """Everything wrong with the chain of checkpoints (in order of ``n``), one Chinese line each:
    a gap in the numbers, a broken link to the previous one, a signature that the configured key
    does not verify, stored leaves whose root or count is not the signed one."""
    problems: list[str] = []
    previous: Checkpoint | None = None
    for cp in checkpoints:
        expected_n = previous.n + 1 if previous else 1
        if cp.n != expected_n:
            problems.append(f"存证检查点 No.{cp.n}：编号应为 {expected_n}，检查点缺失或被改动")
        expected_prev = previous.digest() if previous else GENESIS_HASH
        if cp.prev_hash != expected_prev:
            problems.append(f"存证检查点 No.{cp.n}：与上一个检查点不衔接")
        if cp.public_key != signer.public_key:
            problems.append(f"存证检查点 No.{cp.n}：签名公钥不是本系统配置的检查点密钥")
        elif not signer.verify(cp.canonical(), cp.signature):
            problems.append(f"存证检查点 No.{cp.n}：签名无效，检查点内容被改动")
        leaves = leaves_of(cp.n)
        if len(leaves) != cp.count:
            problems.append(f"存证检查点 No.{cp.n}：保存的叶子有 {len(leaves)} 个，签名记录的是 {cp.count} 个")
        try:
            root = merkle_root(leaves)
        except ValueError:
            root = ""
        if root != cp.root:
            problems.append(f"存证检查点 No.{cp.n}：由保存的叶子重算的默克尔根与签名的根不符，叶子被改动")
        previous = cp
    return problems


def chain_matches(leaf: Leaf, hashes: Sequence[str]) -> bool:
    """Whether a chain (its event hashes in order) is the leaf's chain, or grew from it."""
    if leaf.length == 0:
        return leaf.head == GENESIS_HASH
    return len(hashes) >= leaf.length and hashes[leaf.length - 1] == leaf.head


def mismatch_reason(leaf: Leaf, hashes: Sequence[str], checkpoint_n: int) -> str | None:
    """Why a chain no longer matches the checkpoint's leaf (Chinese), or None when it does."""
    if chain_matches(leaf, hashes):
        return None
    if len(hashes) < leaf.length:
        return f"监管链现有 {len(hashes)} 条记录，存证检查点 No.{checkpoint_n} 时已有 {leaf.length} 条：记录被删除"
    return (
        f"监管链第 {leaf.length} 条记录的哈希与存证检查点 No.{checkpoint_n} 记录的 {leaf.head[:16]}… 不符："
        "历史记录被改写"
    )


def covering_number(leaves_by_n: Mapping[int, Leaf], hashes: Sequence[str]) -> int | None:
    """The number of the newest checkpoint whose leaf for this package its chain still matches."""
    for n in sorted(leaves_by_n, reverse=True):
        if chain_matches(leaves_by_n[n], hashes):
            return n
    return None
