"""A witness: an overseer's own record of the deployment's signed tree heads.

The witness keeps, in its own folder, the public key it pinned at first contact
(``pinned.pub``) and every head it accepted (``heads.jsonl``). Each check fetches the
deployment's latest head and a consistency proof from the last head it accepted — from the
home's files or from the service — and accepts the new head only when the pinned key signed it
and the proof shows the old log is a prefix of the new one; reading files, it also checks that
the ledger still holds the events the head covers. Nothing the deployment serves is
trusted otherwise, so a witness that saw head N detects any later rewrite of events 1..N even
if every file of the home was replaced.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from faceaudit.base.home import Home
from faceaudit.ledger import merkle
from faceaudit.ledger.canonical import canonical
from faceaudit.ledger.errors import LedgerError
from faceaudit.ledger.signing import PublicKey, fingerprint, load_public_key, write_public_key
from faceaudit.ledger.sth import SignedTreeHead, SthLog, parse_sth
from faceaudit.ledger.store import EventLog, open_event_log


class WitnessError(LedgerError):
    """The witness cannot run: unreadable state, no pinned key, unreachable source."""

    code = "witness-error"
    http_status = 400


class SourceError(LedgerError):
    """The deployment cannot answer what the witness asks (no head, no proof)."""


class LogSource(Protocol):
    """Where the witness reads the deployment's log from."""

    description: str

    def latest_head(self) -> SignedTreeHead:
        """The deployment's newest signed tree head (raises :class:`SourceError`)."""
        ...

    def consistency(self, first: int, second: int) -> list[bytes]:
        """A consistency proof between two sizes (raises :class:`SourceError`)."""
        ...


class HomeSource:
    """A deployment home read as files, without writing anything into it."""

    def __init__(self, home: Home) -> None:
        if not home.root.is_dir():
            raise WitnessError(f"no deployment home at {home.root}")
        self.home = home
        self.description = str(home.root)
        self._levels: list[list[bytes]] | None = None

    def latest_head(self) -> SignedTreeHead:
        """The last head of ``ledger.sth.jsonl``."""
        try:
            head = self._log().sth_log.latest()
        except LedgerError as exc:
            raise SourceError(str(exc)) from None
        if head is None:
            raise SourceError("the deployment presents no signed tree head")
        return head

    def consistency(self, first: int, second: int) -> list[bytes]:
        """From the stored tree when it is long enough, else from the ledger's events."""
        try:
            tree = self._log().tree
            if tree.size >= second:
                return tree.consistency(first, second)
            levels = self._ledger_levels()
            if len(levels[0]) < second:
                raise SourceError(f"the ledger holds {len(levels[0])} events, not {second}")
            return merkle.consistency_path(first, second, merkle.levels_subtree(levels))
        except (LedgerError, ValueError) as exc:
            raise SourceError(str(exc)) from None

    def data_problem(self, head: SignedTreeHead) -> tuple[str, str] | None:
        """(status, reason) when the home's ledger no longer holds the events ``head`` signed
        (deleted, truncated or rewritten behind an intact head file), else None. Recomputed
        from the ledger's own lines, not from the derived tree."""
        levels = self._ledger_levels()
        held = len(levels[0])
        if held < head.tree_size:
            return "missing-prefix", (f"the ledger holds {held} events but the latest signed "
                                      f"head covers {head.tree_size} (deleted or truncated)")
        if merkle.levels_root(levels, head.tree_size) != head.root:
            return "fork", (f"the ledger's first {head.tree_size} events are not the ones the "
                            "signed head covers (rewritten)")
        if held > head.tree_size and head.chained:
            return "unsigned-tail", (
                f"the ledger holds {held} events but the newest signed head covers "
                f"{head.tree_size}: events {head.tree_size + 1}..{held} were appended without "
                "the signing key (every event of a faceaudit-sth/2 home is signed)")
        return None

    def _log(self) -> EventLog:
        """The home's ledger storage (files, or PostgreSQL when a database URL is in force)."""
        return open_event_log(self.home)

    def _ledger_levels(self) -> list[list[bytes]]:
        if self._levels is None:
            leaves = [merkle.leaf_hash(line) for line in self._log().lines()]
            self._levels = merkle.build_levels(leaves)
        return self._levels


class UrlSource:
    """The deployment's REST service (``GET /v1/ledger/sth`` and ``/v1/ledger/consistency``)."""

    def __init__(self, url: str, api_key: str | None, timeout: float = 30.0) -> None:
        self.base = url.rstrip("/")
        self.description = self.base
        self.api_key = api_key
        self.timeout = timeout

    def latest_head(self) -> SignedTreeHead:
        """Fetch and parse the latest head."""
        body = self._get("/v1/ledger/sth", {})
        try:
            return parse_sth(body)
        except LedgerError as exc:
            raise SourceError(str(exc)) from None

    def consistency(self, first: int, second: int) -> list[bytes]:
        """Fetch a consistency proof."""
        body = self._get("/v1/ledger/consistency", {"first": first, "second": second})
        try:
            return [bytes.fromhex(h) for h in body["proof"]]
        except (KeyError, TypeError, ValueError):
            raise SourceError("the service sent a malformed consistency proof") from None

    def _get(self, path: str, query: dict[str, int]) -> Any:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403, 429):
                raise WitnessError(f"{url}: HTTP {exc.code} (check --api-key)") from None
            raise SourceError(f"{url}: HTTP {exc.code} {_detail(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise WitnessError(f"cannot reach {self.base}: {exc}") from None
        except ValueError:
            raise SourceError(f"{url}: the answer is not JSON") from None


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("detail", ""))
    except (ValueError, AttributeError, OSError):
        return ""


@dataclass
class WitnessResult:
    """The outcome of one check: ``ok`` False means misbehaviour was detected (exit 4)."""

    ok: bool
    status: str
    reason: str | None = None
    head: SignedTreeHead | None = None
    previous: SignedTreeHead | None = None
    peers_checked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "ok": self.ok,
            "status": self.status,
            "reason": self.reason,
            "head": self.head.to_dict() if self.head else None,
            "previous_size": self.previous.tree_size if self.previous else None,
            "peers_checked": self.peers_checked,
        }


class WitnessState:
    """The witness's own folder: ``pinned.pub`` and ``heads.jsonl``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def key_path(self) -> Path:
        """The deployment's public key, pinned at first contact."""
        return self.directory / "pinned.pub"

    @property
    def heads_path(self) -> Path:
        """Every head this witness accepted, in order."""
        return self.directory / "heads.jsonl"

    def pinned_key(self) -> PublicKey | None:
        """The pinned key, or None before first contact."""
        if not self.key_path.exists():
            return None
        try:
            return load_public_key(self.key_path)
        except LedgerError as exc:
            raise WitnessError(f"witness state: {exc}") from None

    def pin(self, key: PublicKey) -> None:
        """Pin ``key`` (first contact)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        write_public_key(key, self.key_path)

    def heads(self) -> list[SignedTreeHead]:
        """The accepted heads."""
        try:
            return SthLog(self.heads_path).heads()
        except LedgerError as exc:
            raise WitnessError(f"witness state: {exc}") from None

    def latest(self) -> SignedTreeHead | None:
        """The largest accepted head."""
        heads = self.heads()
        return heads[-1] if heads else None

    def accept(self, head: SignedTreeHead) -> None:
        """Record ``head`` as seen and verified."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.heads_path, "ab") as fh:
            fh.write(canonical(head.to_dict()) + b"\n")


def pin_or_check_key(state: WitnessState, public_key_path: Path | None) -> PublicKey:
    """Return the pinned key, pinning ``public_key_path`` at first contact; a different key
    offered later is a :class:`KeyReplaced` result rather than a new pin."""
    pinned = state.pinned_key()
    offered = None
    if public_key_path is not None:
        try:
            offered = load_public_key(public_key_path)
        except LedgerError as exc:
            raise WitnessError(str(exc)) from None
    if pinned is None:
        if offered is None:
            raise WitnessError(
                f"first contact: pass --public-key (the deployment's public key, obtained "
                f"out of band) to pin it in {state.directory}")
        state.pin(offered)
        return offered
    if offered is not None and fingerprint(offered) != fingerprint(pinned):
        raise KeyReplaced(
            f"the public key offered ({fingerprint(offered)}) is not the one pinned at first "
            f"contact ({fingerprint(pinned)}); the witness keeps the pinned key")
    return pinned


class KeyReplaced(Exception):
    """A public key other than the pinned one was offered."""


def check(state: WitnessState, source: LogSource, public_key_path: Path | None = None,
          peers: Sequence[Path] = (), home_key: Path | None = None) -> WitnessResult:
    """Run one witness check of ``source``; record the new head only when it verifies.

    ``home_key``: the public key file the deployment presents (file mode), compared with the
    pinned key. ``peers``: state folders of other witnesses whose heads must be consistent with
    this one's (a deployment showing different histories to different witnesses is a fork).
    """
    try:
        pinned = pin_or_check_key(state, public_key_path)
        if home_key is not None and home_key.exists():
            presented = load_public_key(home_key)
            if fingerprint(presented) != fingerprint(pinned):
                raise KeyReplaced(
                    f"the deployment now presents public key {fingerprint(presented)}, not the "
                    f"pinned {fingerprint(pinned)} (public key replaced)")
    except KeyReplaced as exc:
        return WitnessResult(False, "key-replaced", str(exc), previous=state.latest())
    previous = state.latest()
    try:
        head = source.latest_head()
    except SourceError as exc:
        return WitnessResult(False, "no-head", f"{source.description}: {exc}", previous=previous)
    problem = head.problem(pinned)
    if problem:
        return WitnessResult(False, "bad-signature", problem, head, previous)
    outcome = _compare(source, previous, head)
    if outcome is not None:
        outcome.previous = previous
        return outcome
    data_problem = getattr(source, "data_problem", None)
    if data_problem is not None:
        found = data_problem(head)
        if found is not None:
            return WitnessResult(False, found[0], found[1], head, previous)
    status = "first-contact" if previous is None else (
        "unchanged" if previous.tree_size == head.tree_size else "extended")
    result = WitnessResult(True, status, None, head, previous)
    for peer in peers:
        problem = _peer_problem(source, pinned, head, WitnessState(peer))
        if problem is not None:
            return WitnessResult(False, "fork", f"peer {peer}: {problem}", head, previous,
                                 result.peers_checked)
        result.peers_checked.append(str(peer))
    if previous is None or head != previous:
        state.accept(head)
    return result


def _compare(source: LogSource, old: SignedTreeHead | None,
             new: SignedTreeHead) -> WitnessResult | None:
    """Why ``new`` cannot follow ``old``, as a failed result, or None when it can."""
    if old is None:
        return None
    if new.tree_size < old.tree_size:
        return WitnessResult(False, "rollback", (
            f"the deployment's latest head covers {new.tree_size} events, fewer than the "
            f"{old.tree_size} this witness saw signed (rolled back or truncated)"), new)
    if new.tree_size == old.tree_size:
        if new.root_hash != old.root_hash:
            return WitnessResult(False, "fork", (
                f"two signed heads of {new.tree_size} events with different roots "
                "(history rewritten)"), new)
        return None
    try:
        proof = source.consistency(old.tree_size, new.tree_size)
    except SourceError as exc:
        return WitnessResult(False, "missing-prefix", (
            f"the deployment cannot prove that its log of {new.tree_size} events extends the "
            f"{old.tree_size} this witness saw: {exc}"), new)
    if not merkle.verify_consistency(old.tree_size, new.tree_size, old.root, new.root, proof):
        return WitnessResult(False, "fork", (
            f"the log of {new.tree_size} events does not extend the {old.tree_size} events this "
            "witness saw (history before them rewritten)"), new)
    return None


def _peer_problem(source: LogSource, pinned: PublicKey, ours: SignedTreeHead,
                  peer: WitnessState) -> str | None:
    """Why the latest head of another witness conflicts with ``ours``, or None."""
    theirs = peer.latest()
    if theirs is None:
        return None
    if theirs.problem(pinned):
        return None  # not a head of this deployment's key: nothing to compare
    low, high = (theirs, ours) if theirs.tree_size <= ours.tree_size else (ours, theirs)
    if low.tree_size == high.tree_size:
        return None if low.root_hash == high.root_hash else (
            f"saw a different signed head of {low.tree_size} events (the deployment shows "
            "different histories to different witnesses)")
    try:
        proof = source.consistency(low.tree_size, high.tree_size)
    except SourceError as exc:
        return f"cannot prove its head of {theirs.tree_size} events consistent with ours: {exc}"
    if not merkle.verify_consistency(low.tree_size, high.tree_size, low.root, high.root, proof):
        return (f"its signed head of {theirs.tree_size} events is not consistent with ours of "
                f"{ours.tree_size} (the deployment shows different histories)")
    return None
