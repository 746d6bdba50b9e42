"""Object detection: the COCO class names and the maths over the detector's boxes."""
