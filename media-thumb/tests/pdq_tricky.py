"""Pictures that hide from a naive hash, made by Pillow; argv: output folder.

Prints one JSON line per file: {"file", "kind", "mime", "hash"} where the hash is the
reference's (pdqhash) of the picture a viewer sees: a CMYK JPEG as RGB, an alpha mask over
white, the second frame of an animation, a BMP's pixels.
"""
import json, random, sys
import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFilter


def photo(seed, w, h):
    r = random.Random(seed)
    small = Image.new("RGB", (w // 4, h // 4), tuple(r.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(small)
    for _ in range(30):
        x0, y0 = r.randrange(w // 4), r.randrange(h // 4)
        c = tuple(r.randrange(256) for _ in range(3))
        (d.ellipse if r.random() < 0.5 else d.rectangle)([x0, y0, x0 + r.randrange(4, w // 8), y0 + r.randrange(4, h // 8)], fill=c)
    return small.filter(ImageFilter.GaussianBlur(1)).resize((w, h), Image.BICUBIC)


def ref(img):
    h, _ = pdqhash.compute(np.asarray(img.convert("RGB")))
    words = [0] * 16
    for k, bit in enumerate(h[::-1]):
        if bit:
            words[k // 16] |= 1 << (k % 16)
    return "".join("%04x" % w for w in reversed(words))


out = sys.argv[1]
emit = lambda **o: print(json.dumps(o), flush=True)
pic = photo(7, 400, 300)

path = f"{out}/cmyk.jpg"
pic.convert("CMYK").save(path, quality=92)
emit(file=path, kind="cmyk", mime="image/jpeg", hash=ref(Image.open(path).convert("RGB")))

grey = pic.convert("L")
mask = Image.new("RGBA", pic.size, (0, 0, 0, 0))
mask.putalpha(Image.eval(grey, lambda v: 255 - v))
path = f"{out}/mask.png"
mask.save(path)
white = Image.new("RGBA", pic.size, (255, 255, 255, 255))
emit(file=path, kind="alpha-mask", mime="image/png", hash=ref(Image.alpha_composite(white, Image.open(path).convert("RGBA"))))

benign = photo(8, 400, 300)
for ext, fmt in (("gif", "GIF"), ("webp", "WEBP"), ("apng", "PNG")):
    path = f"{out}/animated.{ext}"
    benign.save(path, format=fmt, save_all=True, append_images=[pic], duration=500, loop=0)
    emit(file=path, kind=f"animated-{ext}", mime="image/png" if ext == "apng" else f"image/{ext}", hash=ref(pic.convert("P", palette=Image.ADAPTIVE).convert("RGB") if ext == "gif" else pic))

path = f"{out}/picture.bmp"
pic.save(path)
emit(file=path, kind="bmp", mime="image/bmp", hash=ref(pic))
