"""Typed settings, read once from the environment (prefix ``GLASSBOX_``).

Nothing here mutates ``os.environ``. Every process (web, worker, Triton model, bench) calls
:func:`get_settings` and gets the same frozen object; the Django project also reads its own
:class:`WebSettings` (secret key, hosts, database, broker, task retries) through
:func:`load_web_settings`. The README's configuration reference lists every field of both;
keep them in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from glassbox import profiles

REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    # where runtime state lives (media files, SQLite, Milvus Lite data, logs, pid files)
    var_dir: Path = REPO_ROOT / "var"
    # models: "offline" (MobileNetV2 + MiniLM) or "clip" (CLIP + BLIP, docs/clip-profile.md);
    # unless GLASSBOX_MODEL_REPOSITORY is set, it picks model_repository or model_repository_clip
    profile: str = "offline"
    # inference
    triton_url: str = "127.0.0.1:8100"  # Triton HTTP endpoint, host:port
    triton_timeout_s: float = 30.0
    model_repository: Path = REPO_ROOT / "model_repository"
    # vector index
    milvus_uri: str = "http://127.0.0.1:19540"  # a milvus-lite server, standalone or cluster
    milvus_collection: str = "glassbox_media"
    milvus_timeout_s: float = 10.0
    milvus_index: str = "HNSW"  # FLAT (exact) or HNSW; bench/search.py measures both
    milvus_hnsw_m: int = 16
    milvus_hnsw_ef_construction: int = 200
    milvus_hnsw_ef: int = 512  # search breadth (at least the page end); chosen in docs/search.md
    milvus_exact_below: int = 0  # > 0: a filter keeping at most this many rows is scored exactly
    # analysis
    image_size: int = 224  # side of the square the whole image is resized to (no crop)
    tag_threshold: float = 0.10  # minimum probability for a concept to become a tag
    max_tags: int = 5
    conse_top: int = 8  # concepts mixed into the semantic vector (ConSE top-T)
    conse_broader_top: int = 8  # broader concepts (hypernyms) mixed in as well
    conse_broader_weight: float = 0.25  # their weight relative to their aggregated probability
    explanations: bool = True  # render heat maps and regions per tag
    ocr: bool = True  # read text with the ocr model; lines are evidence and join the vector
    ocr_max_side: int = 1280  # the image is shrunk to this longest side before OCR
    ocr_min_score: float = 0.8  # lines below this recogniser confidence are not used
    ocr_text_weight: float = 0.5  # a read line's weight in the semantic vector, times its score
    caption_weight: float = 0.25  # the grounded caption's weight in the semantic vector
    # Faithfulness of each tag's evidence, re-scored through Triton: "always", "sampled"
    # (a share of the items, chosen by a hash of the file) or "off". Whenever it is not off,
    # masking each tag's region gives a counterfactual ("drops the score from 0.91 to 0.07");
    # on the measured items, deletion and insertion AUCs against a random order are added.
    faithfulness: str = "sampled"
    faithfulness_sample: float = 0.1  # share of items measured in "sampled" mode
    faithfulness_steps: int = 10  # steps of each deletion / insertion curve
    nsfw: bool = True  # run the nsfw_detector model
    nsfw_threshold: float = 0.5  # detections at or above it are reported
    # the object detector (SSD-MobileNetV2 COCO; docs/decisions.md "Issue 11")
    objects: bool = True  # run the object_detection model: objects, counts, colours
    max_object_tags: int = 5  # detected classes that become tags (beside the classifier's)
    object_counterfactuals: int = 3  # object tags re-detected with their box masked
    object_text_weight: float = 0.4  # an object phrase's weight in the semantic vector
    # uploads
    max_upload_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # decompression-bomb guard, checked before decoding
    max_image_side: int = 12_000
    # video uploads (glassbox.media.video; docs/decisions.md "Issue 10: video decoding"),
    # each checked from the container's header before any frame is decoded
    max_video_bytes: int = 500 * 1024 * 1024
    max_video_duration_s: float = 600.0
    max_video_side: int = 3840  # largest width or height
    max_video_pixels: int = 3840 * 2160  # width x height; FFmpeg refuses larger frames too
    max_video_fps: float = 120.0
    # video analysis (web/media/video_work.py)
    video_keyframe_interval_s: float = 10.0  # a long shot gets a keyframe per this many seconds
    video_keyframe_side: int = 768  # keyframes are analysed and stored at most this large
    video_shot_threshold: float = 0.5  # the shot detector's cut probability that makes a cut
    # moderation policies (glassbox.moderation, docs/moderation.md): the TOML file they are
    # read from, set by GLASSBOX_MODERATION_POLICIES (see _ENV_NAMES)
    moderation_policies_path: Path = REPO_ROOT / "services/glassbox/moderation/policies.toml"

    def __post_init__(self):
        if self.profile not in profiles.PROFILES:
            raise ConfigError(
                f"GLASSBOX_PROFILE={self.profile!r}: choose one of {', '.join(profiles.PROFILES)}"
            )
        if self.milvus_index not in ("FLAT", "HNSW"):
            raise ConfigError(f"GLASSBOX_MILVUS_INDEX={self.milvus_index!r}: choose FLAT or HNSW")
        if self.faithfulness not in ("always", "sampled", "off"):
            raise ConfigError(
                f"GLASSBOX_FAITHFULNESS={self.faithfulness!r}: choose always, sampled or off"
            )

    @property
    def concept_bank_path(self) -> Path:
        return self.model_repository / "image_concepts" / "1" / "concept_bank.npz"


@dataclass(frozen=True)
class WebSettings:
    """The Django project's own settings (``web/glassbox_web/settings.py`` reads them)."""

    secret_key: str = ""  # required unless debug: the web app refuses to start without it
    debug: bool = False
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")  # comma-separated
    csrf_trusted_origins: tuple[str, ...] = ()  # comma-separated, when behind a proxy
    database_url: str = ""  # empty: SQLite at var_dir / "glassbox.sqlite3"
    redis_url: str = "redis://127.0.0.1:6380/0"  # the Celery broker
    task_max_retries: int = 8  # retries of a task while Triton or Milvus is unreachable
    task_retry_backoff_max_s: int = 300  # longest wait between those retries
    # Recovery (``manage.py maintain``, docs/decisions.md "Issue 9: leases, outbox, reconciler")
    lease_s: int = 60  # a worker's hold on an item, renewed every third of it while it works
    max_interruptions: int = 3  # workers lost on one item before it fails with that reason
    requeue_after_s: int = 120  # a queued item whose message was lost is sent again after this
    outbox_poll_s: float = 1.0  # how often the maintainer sends what the outbox holds
    reap_interval_s: int = 10  # how often expired leases and lost messages are looked for
    reconcile_interval_s: int = 30  # re-sync of needs_reindex items and deleted items' vectors
    consistency_interval_s: int = 300  # database against index: ids, a sample of filter fields
    consistency_sample: int = 200  # items whose filter fields each check compares
    # Login throttling and API tokens (docs/decisions.md "Issue 9: login throttling and tokens")
    login_failures_per_username: int = 5  # failed logins per username in a window; 0: no limit
    login_failures_per_address: int = 20  # failed logins per client address in a window; 0: none
    login_throttle_window_s: int = 900  # the window failures count in, and the lockout's length
    num_proxies: int = 0  # trusted proxies in front (X-Forwarded-For hops); 0: REMOTE_ADDR
    token_max_age_days: int = 30  # an API token expires this long after it was issued; 0: never
    token_throttle_rate: str = "30/min"  # POST /api/v1/auth/token/ per client address (DRF rate)
    # Moderation (web/moderation): a moderator's claim on a flag older than this may be taken
    # over by another moderator
    moderation_claim_stale_s: int = 900
    # Operations (web/ops, docs/deployment.md "Monitoring"): the bearer token a Prometheus
    # scraper sends to /metrics (empty: only signed-in operators), the port a worker serves
    # its own /metrics on (0: none), and the log format (json or plain)
    metrics_token: str = ""
    worker_metrics_port: int = 0
    log_format: str = "json"
    # Search (docs/search.md "Speed"): query embeddings kept per web process (LRU; 0: none),
    # and whether a lexical channel none of whose query words occurs is skipped (word sets in
    # the broker's Redis)
    search_embedding_cache: int = 4096
    search_vocabulary: bool = True


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_bool(raw: str) -> bool:
    """The one true/false parser (settings, query parameters): raises ValueError otherwise."""
    low = raw.strip().lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise ValueError(raw)


def _coerce(raw: str, kind: type, name: str):
    if kind is tuple:  # a comma-separated list of strings
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    try:
        if kind is bool:
            return parse_bool(raw)
        if kind is Path:
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError as exc:
        what = "a boolean (use 1/0, true/false)" if kind is bool else f"a valid {kind.__name__}"
        raise ConfigError(f"GLASSBOX_{name.upper()}={raw!r} is not {what}") from exc


_KINDS = {
    "Path": Path,
    "str": str,
    "float": float,
    "int": int,
    "bool": bool,
    "tuple[str, ...]": tuple,
}


# fields whose variable is not GLASSBOX_<FIELD>
_ENV_NAMES = {"moderation_policies_path": "GLASSBOX_MODERATION_POLICIES"}


def _from_environ(cls: type, env: Mapping[str, str]) -> dict[str, Any]:
    """The fields of ``cls`` set in ``env`` (``GLASSBOX_<FIELD>``, or its name in
    ``_ENV_NAMES``; empty means unset), typed."""
    values = {}
    for f in fields(cls):
        raw = env.get(_ENV_NAMES.get(f.name, f"GLASSBOX_{f.name.upper()}"))
        if raw is not None and raw != "":
            values[f.name] = _coerce(raw, _KINDS[str(f.type)], f.name)
    return values


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from an environment mapping (``os.environ`` by default)."""
    values = _from_environ(Settings, os.environ if environ is None else environ)
    if "model_repository" not in values and values.get("profile") in profiles.PROFILES:
        values["model_repository"] = profiles.repository_for(values["profile"], REPO_ROOT)
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def load_web_settings(environ: Mapping[str, str] | None = None) -> WebSettings:
    """Build the web app's settings from an environment mapping (``os.environ`` by default)."""
    return WebSettings(**_from_environ(WebSettings, os.environ if environ is None else environ))
