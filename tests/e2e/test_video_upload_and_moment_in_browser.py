"""End to end in headless Chromium, with the real worker, Triton (with the shot detector) and
Milvus: a member uploads an edited clip through the upload page, watches its progress, sees
its shots and tag ranges, then searches for what one shot shows and lands on that moment in
the player.

The clip is rendered here from the sample photos: 3 s of a giraffe, 3 s of the dog, 3 s of an
eagle, hard cuts between them.
"""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FPS = 12


def render(samples, out):
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4")
        stream.rate = FPS
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for name in ("giraffe.jpg", "dog.jpg", "eagle.jpg"):
            picture = np.asarray(Image.open(samples / name).convert("RGB").resize((320, 240)))
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for _ in range(3 * FPS):
                container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out


def test_a_video_is_uploaded_shows_its_progress_and_a_search_lands_on_the_moment(
    page, log_in, live_server, celery_worker, samples, tmp_path, django_user_model
):
    clip = render(samples, tmp_path / "edited.mp4")
    django_user_model.objects.create_user("vera", password="vera-password-1")
    log_in(page, live_server.url, "vera", "vera-password-1")
    page.goto(f"{live_server.url}/upload/")
    page.set_input_files("#file", str(clip))
    page.fill("#title", "Edited clip")
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/media/*/", timeout=30_000)
    # while it is analysed the page shows where it is ("keyframes 1 / 3")
    page.wait_for_function(
        "() => /keyframes \\d+ \\/ \\d+|shots/.test("
        "document.querySelector('[data-testid=progress]')?.textContent || '')",
        timeout=120_000,
    )
    page.wait_for_function(
        "() => document.querySelector('[data-testid=status]')?.textContent.trim() === 'ready'",
        timeout=300_000,
    )
    # the page reloads itself once the video is ready, with its timeline
    page.wait_for_selector("[data-testid=cut]", state="attached", timeout=60_000)
    assert page.locator("[data-testid=cut]").count() == 2  # cuts at 3 s and 6 s
    assert page.locator("[data-testid=tag-row]").count() >= 1

    page.goto(f"{live_server.url}/search/?q=dog&weaker=true")
    result = page.locator("[data-testid=result]", has_text="Edited clip").first
    result.wait_for()
    moment = result.locator("[data-testid=moment]").first
    start = float(moment.get_attribute("data-start"))
    assert abs(start - 3.0) <= 1 / FPS + 1e-6
    moment.locator("[data-testid=moment-link]").click()
    page.wait_for_url("**#t=*")
    page.wait_for_function(
        "(t) => { const v = document.querySelector('[data-testid=player]');"
        " return v && Math.abs(v.currentTime - t) < 0.5; }",
        arg=start,
        timeout=30_000,
    )
    page.screenshot(path=str(tmp_path / "moment.png"))
