"""Custody anchored beyond the database: the Merkle root over the chains' heads, signed checkpoints
chained to each other, chains compared with a checkpoint's leaves, and a package checked against
the anchor its row keeps and the position its chain implies."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.crypto import Ed25519Signer
from adapters.settings import Settings
from handoff.custody import (
    Leaf,
    checkpoint_problems,
    covering_number,
    leaf_hash,
    make_checkpoint,
    merkle_root,
    mismatch_reason,
    node_hash,
)
from handoff.errors import InvalidInput
from handoff.package import GENESIS_HASH, Anchor, PackageState, implied_position

from .test_package import travelled

HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
LEAVES = st.lists(
    st.builds(Leaf, st.text("abcdefghij-0123456789", min_size=1, max_size=12), st.integers(0, 50), HEX),
    max_size=40,
    unique_by=lambda leaf: leaf.package_id,
)
SIGNER = Ed25519Signer(b"k" * 32)
AT = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def test_the_root_follows_rfc_6962_with_leaves_and_nodes_kept_apart():
    a, b, c = Leaf("a", 1, "1" * 64), Leaf("b", 2, "2" * 64), Leaf("c", 3, "3" * 64)
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()
    assert merkle_root([a]) == leaf_hash(a).hex() == hashlib.sha256(b"\x00" + a.canonical()).hexdigest()
    assert merkle_root([c, a, b]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c)).hex()
    # a leaf whose bytes are two node hashes is still not that node: the prefixes differ
    assert leaf_hash(a) != hashlib.sha256(b"\x01" + a.canonical()).digest()


@settings(max_examples=80, deadline=None)
@given(LEAVES, st.randoms(use_true_random=False))
def test_the_root_does_not_depend_on_the_order_the_leaves_come_in(leaves, rnd):
    shuffled = list(leaves)
    rnd.shuffle(shuffled)
    assert merkle_root(shuffled) == merkle_root(leaves)


@settings(max_examples=80, deadline=None)
@given(LEAVES.filter(bool), st.data())
def test_changing_any_leaf_changes_the_root(leaves, data):
    index = data.draw(st.integers(0, len(leaves) - 1))
    field = data.draw(st.sampled_from(["length", "head"]))
    changed = list(leaves)
    leaf = changed[index]
    changed[index] = (
        replace(leaf, length=leaf.length + 1)
        if field == "length"
        else replace(leaf, head=("0" if leaf.head[0] != "0" else "1") + leaf.head[1:])
    )
    assert merkle_root(changed) != merkle_root(leaves)


@settings(max_examples=50, deadline=None)
@given(LEAVES.filter(bool))
def test_dropping_or_adding_a_leaf_changes_the_root(leaves):
    assert merkle_root(leaves[1:]) != merkle_root(leaves)
    assert merkle_root([*leaves, Leaf("zzz-new", 1, "f" * 64)]) != merkle_root(leaves)


def test_a_package_appearing_twice_is_refused():
    with pytest.raises(ValueError):
        merkle_root([Leaf("a", 1, "1" * 64), Leaf("a", 2, "2" * 64)])


def checkpoints(count: int = 3):
    made, stored, previous = [], {}, None
    for n in range(count):
        leaves = [Leaf(f"p{i}", n + i + 1, hashlib.sha256(f"{n}-{i}".encode()).hexdigest()) for i in range(4)]
        previous = make_checkpoint(previous=previous, leaves=leaves, at=AT + timedelta(days=n), signer=SIGNER)
        made.append(previous)
        stored[previous.n] = leaves
    return made, stored


def test_checkpoints_are_numbered_signed_and_chained_to_the_previous_one():
    made, stored = checkpoints()
    assert [cp.n for cp in made] == [1, 2, 3]
    assert made[0].prev_hash == GENESIS_HASH and made[2].prev_hash == made[1].digest()
    assert SIGNER.verify(made[1].canonical(), made[1].signature)
    assert checkpoint_problems(made, stored.__getitem__, SIGNER) == []
    assert made[0].short().startswith(f"存证检查点 No.1　根 {made[0].root[:16]}　签名 {made[0].signature.hex()[:16]}")


def test_a_tampered_signature_a_changed_root_or_another_key_is_named():
    made, stored = checkpoints()
    bad_signature = bytes([made[1].signature[0] ^ 1]) + made[1].signature[1:]
    forged = [made[0], replace(made[1], signature=bad_signature), made[2]]
    problems = checkpoint_problems(forged, stored.__getitem__, SIGNER)
    assert problems == ["存证检查点 No.2：签名无效，检查点内容被改动"]
    problems = checkpoint_problems([made[0], replace(made[1], root="0" * 64), made[2]], stored.__getitem__, SIGNER)
    assert "存证检查点 No.2：签名无效，检查点内容被改动" in problems
    assert any("No.3：与上一个检查点不衔接" in p for p in problems)
    assert any("No.2：由保存的叶子重算的默克尔根与签名的根不符" in p for p in problems)
    other = Ed25519Signer(b"o" * 32)
    assert all("签名公钥不是本系统" in p for p in checkpoint_problems(made, stored.__getitem__, other))


def test_stored_leaves_rewritten_no_longer_give_the_signed_root():
    made, stored = checkpoints()
    stored[3] = [replace(stored[3][0], head="e" * 64), *stored[3][1:]]
    assert checkpoint_problems(made, stored.__getitem__, SIGNER) == [
        "存证检查点 No.3：由保存的叶子重算的默克尔根与签名的根不符，叶子被改动"
    ]


def test_a_chain_that_only_grew_still_matches_and_a_cut_or_rewritten_one_does_not():
    p = travelled()
    hashes = [e.hash for e in p.custody]
    leaf = Leaf(p.id, 4, hashes[3])
    assert mismatch_reason(leaf, hashes, 7) is None  # grew from 4 to 6 events since
    assert "记录被删除" in (mismatch_reason(leaf, hashes[:3], 7) or "")
    rewritten = [*hashes[:3], "f" * 64, *hashes[4:]]
    assert "历史记录被改写" in (mismatch_reason(leaf, rewritten, 7) or "")
    assert covering_number({1: Leaf(p.id, 2, hashes[1]), 2: leaf, 3: Leaf(p.id, 5, "0" * 64)}, hashes) == 2


def test_a_package_checks_its_chain_against_its_anchor():
    p = travelled()
    p.anchor = Anchor.of(p.custody)
    assert p.verify().ok
    p.anchor = Anchor(len(p.custody) + 3, "a" * 64)
    check = p.verify()
    assert not check.ok and "材料包登记的是 9 条" in check.reason and check.broken_at == 7
    p.anchor = Anchor(len(p.custody), "a" * 64)
    assert "哈希与材料包登记的不符" in p.verify().reason


def test_a_package_whose_state_or_holder_is_not_what_its_chain_implies_fails():
    p = travelled()
    assert implied_position(p.custody) == (p.state, p.holder)
    p.holder = "courier:someone"
    assert not p.verify().ok and "持有方" in p.verify().reason
    q = travelled()
    q.state = PackageState.IN_TRANSIT
    assert not q.verify().ok and "监管链表明应为“已签收”" in q.verify().reason


def test_a_package_whose_chain_was_emptied_fails_and_still_reads():
    p = travelled()
    p.anchor = Anchor.of(p.custody)
    p.custody.clear()
    check = p.verify()
    assert not check.ok and check.broken_at == 1 and check.reason == "监管链没有任何记录"
    assert p.last_movement_at == p.created_at


def test_the_checkpoint_key_is_a_32_byte_seed_and_its_development_default_is_warned_about():
    own = {
        "HANDOFF_SCAN_KEYS": "K1:" + base64.b64encode(b"s" * 32).decode(),
        "HANDOFF_TRACKING_KEY": base64.b64encode(b"t" * 32).decode(),
        "HANDOFF_ID_KEYS": "K1:" + base64.b64encode(b"i" * 32).decode(),
        "HANDOFF_ID_HASH_KEY": base64.b64encode(b"h" * 32).decode(),
    }
    assert Settings.from_env(own).uses_dev_secrets()  # the checkpoint key is still the development one
    production = Settings.from_env({**own, "HANDOFF_CHECKPOINT_KEY": base64.b64encode(b"c" * 32).decode()})
    assert not production.uses_dev_secrets()
    assert Ed25519Signer(production.checkpoint_key_bytes()).public_key != SIGNER.public_key
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(InvalidInput, match="HANDOFF_CHECKPOINT_KEY"):
            Settings.from_env({"HANDOFF_CHECKPOINT_KEY": bad}).checkpoint_key_bytes()
