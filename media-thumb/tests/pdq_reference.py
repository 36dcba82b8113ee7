"""Test photos for the PDQ agreement test, hashed by Meta's reference (pdqhash on PyPI).

argv: output folder, count. Writes photo-N.png (and photo-N.jpg, quality 92) of varied
sizes, and prints one JSON line per file: {"file", "hash", "quality"} where the hash is the
reference's hex (word 15 first) of the pixels Pillow decodes (EXIF orientation applied).
"""
import json, random, sys
import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFilter, ImageOps


def photo(seed, w, h):
    r = random.Random(seed)
    small = Image.new("RGB", (max(w // 4, 8), max(h // 4, 8)), tuple(r.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(small)
    sw, sh = small.size
    for _ in range(r.randrange(8, 40)):
        x0, y0 = r.randrange(sw), r.randrange(sh)
        x1, y1 = x0 + r.randrange(4, max(sw // 2, 5)), y0 + r.randrange(4, max(sh // 2, 5))
        colour = tuple(r.randrange(256) for _ in range(3))
        if r.random() < 0.5:
            d.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            d.rectangle([x0, y0, x1, y1], fill=colour)
    img = small.filter(ImageFilter.GaussianBlur(1.5)).resize((w, h), Image.BICUBIC)
    a = np.asarray(img).astype(np.int16)
    a = a + np.random.default_rng(seed).integers(-10, 10, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def reference(img):
    h, q = pdqhash.compute(np.asarray(img.convert("RGB")))
    words = [0] * 16
    # pdqhash returns bit 255 first; the reference numbers bits from the other end.
    for k, bit in enumerate(h[::-1]):
        if bit:
            words[k // 16] |= 1 << (k % 16)
    return "".join("%04x" % w for w in reversed(words)), int(q)


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    sizes = [(500, 375), (375, 500), (480, 480), (320, 200), (1600, 1200), (4032, 3024)]
    for n in range(count):
        w, h = sizes[n % len(sizes)]
        img = photo(1000 + n, w, h)
        for ext in ("png", "jpg"):
            path = f"{out}/photo-{n}.{ext}"
            if ext == "png":
                img.save(path)
            else:
                img.save(path, "JPEG", quality=92)
            decoded = ImageOps.exif_transpose(Image.open(path))
            hx, q = reference(decoded)
            print(json.dumps({"file": path, "hash": hx, "quality": q, "width": w, "height": h}))


main()
