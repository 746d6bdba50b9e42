"""The maths of video analysis, on plain arrays and dataclasses (numpy and the standard
library only: no model calls, no decoding, no I/O).

- ``shots``: TransNetV2's per-frame cut probabilities into ``Shot``s (one cut per transition,
  short shots merged), a cut's evidence curve, ``format_time``, a content-difference baseline
  detector and the F1 of detected cuts;
- ``keyframes``: the candidate frames to decode per shot and the ``Keyframe``s chosen among
  them (sharpest near the middle, one per window of a long shot, never blank when avoidable);
- ``timeline``: per-keyframe observations into time-ranged ``Insight``s (per shot, merged
  ranges, duration-weighted whole-video scores), their one-line justification and the
  captions' summary;
- ``webvtt``: chapters and timed-metadata WebVTT tracks, with untrusted text made safe.
"""
