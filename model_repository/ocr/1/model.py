"""Triton adapter for ``ocr``: loads the reader and reads image by image.

The reading lives in ``glassbox.nn.ocr``; its ONNX models come from the rapidocr wheel, loaded
here at ``initialize`` (nothing is downloaded); an image whose small first pass finds no
candidate line skips the full pass when ``GLASSBOX_OCR_GATE`` is 1 (off by default). Batching, input
checks, padding to the configured maximum and per-request errors are
``glassbox.serving.adapter.BoxesAdapter``'s.
"""

import triton_python_backend_utils as pb_utils
from glassbox.nn.ocr import TextReader, gate_from_env
from glassbox.serving.adapter import BoxesAdapter


class TritonPythonModel(BoxesAdapter):
    name = "ocr"
    pb_utils = pb_utils
    outputs = ("COUNT", "TEXTS", "BOXES", "SCORES")
    label = "text"

    def load(self, config):
        # onnxruntime threads: GLASSBOX_TORCH_THREADS; the small first pass: GLASSBOX_OCR_GATE
        self.reader = TextReader(gate=gate_from_env())

    def run(self, batches):  # OCR reads image by image; one image's failure stays its own
        return [self._read(image) for images in batches for image in images]

    def _read(self, image):
        try:
            return self.reader.read(image)
        except Exception as exc:  # one image's failure must not sink the other requests
            return exc

    def respond(self, images, found):
        failed = [r for r in found if isinstance(r, Exception)]
        if failed:
            return self.refuse(f"ocr failed: {failed[0]}")
        return super().respond(images, found)
