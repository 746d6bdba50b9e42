"""The python backend's batching contract, once for every model (no Triton import here).

With ``dynamic_batching`` Triton hands ``execute`` a list of requests. Each model.py:

- parses each request into its own batch (a ``ValueError`` fails that request alone),
- runs one forward pass over all the parsed batches together,
- answers exactly one response per request, in order; if the pass itself fails, every
  request that took part learns why, and the ones already refused keep their own reason.

``answer`` does the bookkeeping; a model.py gives it four small functions, so the adapters
stay thin and this logic is unit-tested without a server (tests/unit/test_triton_batching.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def answer(
    requests: Sequence[Any],
    parse: Callable[[Any], Any],
    run: Callable[[list[Any]], Any],
    respond: Callable[[Any, Any], Any],
    refuse: Callable[[str], Any],
    name: str,
) -> list[Any]:
    """One response per request.

    ``parse(request)`` gives that request's batch (anything with ``len``); ``run(batches)``
    gives the outputs of all items in order — an array, a list, or a tuple of arrays (one per
    output tensor); ``respond(batch, outputs)`` builds a response from one request's share of
    them; ``refuse(message)`` builds an error response.
    """
    responses: list[Any] = [None] * len(requests)
    batches, owners = [], []
    for i, request in enumerate(requests):
        try:
            batches.append(parse(request))
            owners.append(i)
        except ValueError as exc:
            responses[i] = refuse(str(exc))
    if not owners:
        return responses
    try:
        outputs = run(batches)
        shares = split(outputs, [len(batch) for batch in batches])
        for i, batch, share in zip(owners, batches, shares, strict=True):
            responses[i] = respond(batch, share)
    except Exception as exc:  # the pass failed: every request that took part learns why
        for i in owners:
            responses[i] = refuse(f"{name} failed: {exc}")
    return responses


def split(outputs: Any, sizes: Sequence[int]) -> list[Any]:
    """Cut the outputs of all items into consecutive shares of ``sizes`` items each."""
    bounds = np.cumsum([0, *sizes])
    first = outputs[0] if isinstance(outputs, tuple) else outputs
    if len(first) != bounds[-1]:
        raise ValueError(f"the model gave {len(first)} outputs for {bounds[-1]} inputs")
    if isinstance(outputs, tuple):  # one array per output tensor
        return [
            type(outputs)(*(o[a:b] for o in outputs))
            if hasattr(outputs, "_fields")
            else tuple(o[a:b] for o in outputs)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    return [outputs[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def image_batch(tensor: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A request's ``IMAGE`` tensor as uint8 ``[N, H, W, 3]``; ``shape`` fixes ``(H, W, 3)``.
    ``tensor`` is what ``pb_utils.get_input_tensor_by_name`` gave (None when missing)."""
    if tensor is None:
        raise ValueError("input IMAGE is missing")
    images = tensor.as_numpy()
    if shape is not None:
        if images.dtype != np.uint8 or images.shape[1:] != tuple(shape):
            raise ValueError(f"IMAGE must be uint8 [N, {tuple(shape)}], got {images.shape}")
        return images
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"IMAGE must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise ValueError(f"IMAGE is empty: {images.shape}")
    return images


def frame_windows(tensor: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A request's ``FRAMES`` tensor as uint8 ``[N, *shape]`` (``shape`` from the config, e.g.
    ``(100, 27, 48, 3)``: windows of a clip's small frames)."""
    if tensor is None:
        raise ValueError("input FRAMES is missing")
    frames = tensor.as_numpy()
    if frames.dtype != np.uint8 or frames.shape[1:] != tuple(shape):
        got = f"{frames.dtype} {frames.shape}"
        raise ValueError(f"FRAMES must be uint8 [N, {tuple(shape)}], got {got}")
    return frames


def utf8_texts(tensor: Any) -> list[str]:
    """A request's ``TEXT`` tensor (BYTES) as strings; invalid UTF-8 refuses the request."""
    if tensor is None:
        raise ValueError("input TEXT is missing")
    texts = []
    for item in tensor.as_numpy().reshape(-1):
        raw = item if isinstance(item, bytes) else str(item).encode()
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"TEXT is not valid UTF-8: {exc}") from exc
    return texts
