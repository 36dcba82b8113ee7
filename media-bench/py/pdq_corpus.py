"""The safety benchmark's pictures, made by Pillow, hashed by Meta's reference (pdqhash).

argv: output folder, number of photos to transform, number of distinct photos.
Writes base-N.jpg with its transformed copies (JPEG quality 30 and 95, resize 0.25x and 2x,
a 2 % crop, a WebP re-encode, rotated pixels with an EXIF orientation that shows them
upright), distinct-N.jpg, and big.jpg (12 MP). Prints one JSON line per file:
{"file", "group", "transform"}, then {"pdqhash_big_s": seconds} (pdqhash's time on big.jpg,
Pillow's decode included, median of 5).
"""
import io, json, random, sys, time
import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFilter


def photo(seed, w, h):
    r = random.Random(seed)
    small = Image.new("RGB", (w // 4, h // 4), tuple(r.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(small)
    sw, sh = small.size
    for _ in range(r.randrange(10, 40)):
        x0, y0 = r.randrange(sw), r.randrange(sh)
        x1, y1 = x0 + r.randrange(4, sw // 2), y0 + r.randrange(4, sh // 2)
        c = tuple(r.randrange(256) for _ in range(3))
        (d.ellipse if r.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=c)
    img = small.filter(ImageFilter.GaussianBlur(1.5)).resize((w, h), Image.BICUBIC)
    a = np.asarray(img).astype(np.int16) + np.random.default_rng(seed).integers(-10, 10, (h, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def main():
    out, transformed, distinct = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    emit = lambda **o: print(json.dumps(o), flush=True)
    for n in range(transformed):
        img = photo(10_000 + n, 800, 600)
        base = f"{out}/base-{n}.jpg"
        img.save(base, "JPEG", quality=90)
        emit(file=base, group=n, transform="original")
        w, h = img.size
        copies = {
            "jpeg-q30": lambda p: img.save(p, "JPEG", quality=30),
            "jpeg-q95": lambda p: img.save(p, "JPEG", quality=95),
            "resize-0.25": lambda p: img.resize((w // 4, h // 4), Image.LANCZOS).save(p, "JPEG", quality=90),
            "resize-2": lambda p: img.resize((w * 2, h * 2), Image.LANCZOS).save(p, "JPEG", quality=90),
            "crop-2pct": lambda p: img.crop((w // 100, h // 100, w - w // 100, h - h // 100)).save(p, "JPEG", quality=90),
            "webp": lambda p: img.save(p, "WEBP", quality=80),
        }
        for name, save in copies.items():
            path = f"{out}/t-{n}-{name}.{'webp' if name == 'webp' else 'jpg'}"
            save(path)
            emit(file=path, group=n, transform=name)
        # Pixels stored rotated 90° counter-clockwise, shown upright by EXIF orientation 6.
        exif = Image.Exif()
        exif[0x0112] = 6
        path = f"{out}/t-{n}-exif-rotation.jpg"
        img.transpose(Image.ROTATE_90).save(path, "JPEG", quality=90, exif=exif.tobytes())
        emit(file=path, group=n, transform="exif-rotation")
    for n in range(distinct):
        path = f"{out}/distinct-{n}.jpg"
        photo(50_000 + n, 320, 240).save(path, "JPEG", quality=85)
        emit(file=path, group=-1 - n, transform="distinct")
    big = f"{out}/big.jpg"
    photo(99, 4032, 3024).save(big, "JPEG", quality=90)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        pdqhash.compute(np.asarray(Image.open(big).convert("RGB")))
        times.append(time.perf_counter() - t)
    emit(file=big, group=-1_000_000, transform="big")
    emit(pdqhash_big_s=sorted(times)[2])


main()
