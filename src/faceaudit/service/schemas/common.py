"""Parts shared by several responses: the open base model, a ledger receipt, a signed tree
head, a face's box, a redirect."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    """A response object: the documented fields, plus any other field the core returns."""

    model_config = ConfigDict(extra="allow")


class TreeHead(Open):
    """A signed tree head of the ledger's transparency log (docs/ledger.md)."""

    tree_size: int = Field(description="Events the tree covers.")
    root_hash: str = Field(description="Merkle root, hex.")
    timestamp: str = Field(description="When it was signed (ISO-8601, UTC).")
    key_id: str = Field(description="Fingerprint of the signing key.")
    signature: str = Field(description="Ed25519 signature, base64.")
    format: str | None = Field(default=None, description="faceaudit-sth/2 heads: the format.")
    prev_head_hash: str | None = None
    prev_tree_size: int | None = None


class InclusionProof(Open):
    """The audit path proving one event is in the tree of ``tree_size`` events."""

    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    audit_path: list[str] = Field(description="Sibling hashes, hex, leaf to root.")


class Receipt(InclusionProof):
    """An operation's receipt: the inclusion proof of its ledger event under a signed tree
    head that covers it (check with ``faceaudit.ledger.sth.receipt_problem``)."""

    sth: TreeHead


class FaceBox(Open):
    """A face's box in the image's own pixels."""

    left: int
    top: int
    right: int
    bottom: int


#: the 303 answer of a form post or of a page that needs a sign-in
def redirect(to: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry documenting a 303 redirect to ``to``."""
    return {303: {"description": f"See Other: the browser is sent to {to}.",
                  "headers": {"Location": {"description": f"{to}",
                                           "schema": {"type": "string"}}}}}
