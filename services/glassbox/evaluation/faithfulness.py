"""Section 2, faithfulness of the maps: deletion / insertion AUC (``glassbox.explain.
faithfulness``) of the top-1 CAM against a random pixel order, and a counterfactual mask of
each top-1 evidence region."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassbox.evaluation import plots
from glassbox.evaluation.data import read_photo
from glassbox.evaluation.models import BASE_SIZE, Models, class_probability
from glassbox.evaluation.plan import SEED, Plan, Report
from glassbox.explain import cam, faithfulness
from glassbox.media.imaging import model_input


@dataclass(frozen=True)
class PhotoFaithfulness:
    name: str
    concept: str
    result: faithfulness.Faithfulness
    masked: tuple[float, float]  # score before, after masking the top-1 evidence region
    masked_control: float  # after masking the same region rotated by 180 degrees
    region_share: float  # fraction of the image in the evidence region
    blur: faithfulness.Faithfulness  # the same with deletion onto the blurred copy


def photo_faithfulness(models: Models, path: str, steps: int) -> PhotoFaithfulness:
    image = model_input(read_photo(path), BASE_SIZE)
    out = models.net.run(image[None])
    top1 = int(out.cam_indices[0, 0])
    heat = cam.upsample(out.cams[0, 0], (BASE_SIZE, BASE_SIZE))
    score = class_probability(models.fast_net, top1)
    result = faithfulness.faithfulness(image, heat, score, steps=steps, seed=SEED)
    blur = faithfulness.faithfulness(
        image, heat, score, steps=steps, seed=SEED, deletion_fill="blur"
    )
    before, after = faithfulness.counterfactual(image, heat, score)
    _, control = faithfulness.counterfactual(image, np.rot90(heat, 2), score)
    share = float(faithfulness.evidence_mask(heat, heat.shape).mean())
    return PhotoFaithfulness(
        Path(path).name, models.bank.names[top1], result, (before, after), control, share, blur
    )


def section_faithfulness(
    models: Models, photos: Sequence[str], plan: Plan, out: Path, report: Report
) -> None:
    started = time.perf_counter()
    rows = [photo_faithfulness(models, p, plan.faithfulness_steps) for p in photos]
    report.timings_s["faithfulness"] = time.perf_counter() - started
    kinds = ("deletion", "random_deletion", "insertion", "random_insertion")
    means = {k: float(np.mean([getattr(r.result, k).auc for r in rows])) for k in kinds}
    wins_del = sum(bool(r.result.deletion.auc < r.result.random_deletion.auc) for r in rows)
    wins_ins = sum(bool(r.result.insertion.auc > r.result.random_insertion.auc) for r in rows)
    blur_del = float(np.mean([r.blur.deletion.auc for r in rows]))
    blur_rand = float(np.mean([r.blur.random_deletion.auc for r in rows]))
    wins_blur = sum(bool(r.blur.deletion.auc < r.blur.random_deletion.auc) for r in rows)
    plot_mean_curves(rows, out / "deletion_insertion.png")
    report.results["faithfulness"] = {
        "photos": len(rows),
        "steps": plan.faithfulness_steps,
        **{f"mean_{k}_auc": v for k, v in means.items()},
        "cam_beats_random_deletion": wins_del,
        "cam_beats_random_insertion": wins_ins,
        "mean_blur_deletion_auc": blur_del,
        "mean_random_blur_deletion_auc": blur_rand,
        "cam_beats_random_blur_deletion": wins_blur,
    }
    n = len(rows)
    report.markdown += [
        "## 2. Faithfulness (deletion and insertion, Petsiuk et al. 2018)",
        "",
        f"Over {n} sample photos (the judged corpus: Debian `darknet` and `opencv-doc`, the"
        " scikit-image and scikit-learn wheels), each as the model sees it"
        f" (the whole image squashed to {BASE_SIZE}×{BASE_SIZE}). Saliency: the top-1 class's"
        " CAM upsampled bilinearly (`glassbox.explain.cam.upsample`, negative evidence clipped);"
        " score: that class's softmax probability. Pixels are removed (deletion: set to the"
        " image's mean colour) or revealed (insertion: onto a box-blurred copy, radius 8% of the"
        f" side, three passes) in {plan.faithfulness_steps} equal steps, most salient first;"
        " ties in the map broken at random. AUC: trapezoid rule over the fraction of pixels,"
        f" in [0, 1]. Random baseline: a seeded random pixel order (seed {SEED}).",
        "",
        "| order | mean deletion AUC (lower is better) | mean insertion AUC (higher is better) |",
        "|---|---|---|",
        f"| top-1 CAM | {means['deletion']:.3f} | {means['insertion']:.3f} |",
        f"| random | {means['random_deletion']:.3f} | {means['random_insertion']:.3f} |",
        "",
        f"The CAM beats the random order on {wins_del}/{n} photos for deletion and {wins_ins}/{n}"
        " for insertion.",
        "",
        "Deletion with a mean-colour fill makes a random order a very strong baseline: a"
        " sprinkle of flat pixels over the whole image destroys the prediction almost at once."
        " Deleting onto the blurred copy instead (the fill insertion starts from) removes"
        " detail without adding that noise:",
        "",
        "| deletion fill | top-1 CAM | random | CAM better on |",
        "|---|---|---|---|",
        f"| mean colour | {means['deletion']:.3f} | {means['random_deletion']:.3f} |"
        f" {wins_del}/{n} |",
        f"| blurred copy | {blur_del:.3f} | {blur_rand:.3f} | {wins_blur}/{n} |",
        "",
        "![mean deletion and insertion curves](deletion_insertion.png)",
        "",
        "Counterfactual (`glassbox.explain.faithfulness.counterfactual`): masking the top-1"
        " evidence region (upsampled CAM ≥ 50% of its peak) with the mean colour, and, as a"
        " control, the same region rotated by 180° (same area, elsewhere).",
        "",
        "| photo | top-1 concept | region share | score | masked | control |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r.name} | {r.concept} | {r.region_share:.0%} | {r.masked[0]:.2f} |"
            f" {r.masked[1]:.2f} | {r.masked_control:.2f} |"
            for r in rows
        ),
        "",
        f"Time: {report.timings_s['faithfulness']:.1f} s"
        f" ({6 * (plan.faithfulness_steps + 1) + 3} forward passes per photo).",
        "",
    ]


def plot_mean_curves(rows: Sequence[PhotoFaithfulness], path: Path) -> None:
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    x = rows[0].result.deletion.fractions
    for ax, kind in zip(axes, ("deletion", "insertion"), strict=True):
        for order, style in ((kind, "-"), (f"random_{kind}", "--")):
            mean = np.mean([getattr(r.result, order).scores for r in rows], axis=0)
            auc = faithfulness.trapezoid_auc(x, mean)
            label = ("top-1 CAM" if order == kind else "random order") + f" (AUC {auc:.3f})"
            ax.plot(x, mean, style, label=label)
        ax.set_xlabel(f"fraction of pixels {'removed' if kind == 'deletion' else 'revealed'}")
        ax.set_ylabel("mean probability of the top-1 class")
        ax.set_title(kind)
        ax.legend()
    plots.save_figure(fig, path)
