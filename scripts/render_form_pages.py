"""Render whole scanned form sheets with one handwritten digit each, as test data.

Each image imitates a paper form scanned on a flatbed or sheet-fed scanner:
an A4 or US-letter portrait page at 150/200/240/300 dpi, on white to cream
paper with grain, a gentle illumination gradient and sometimes a faint
scanner streak.  The form is printed in black, dark grey, blue or red: a
title line (and sometimes an instruction line and a footer), 2 to 6 fields
each made of a printed label and a row of 1 to 10 boxes (grid rows sharing
walls, or separate boxes), sometimes long ruled lines and a light tint in the
boxes.  Exactly one box on the sheet holds a handwritten digit: an MNIST
*test* digit alpha-blended as dark ink, 55-85 % of the box's inner height,
sometimes touching or slightly crossing one side of its box.  The sheet may
be slightly rotated and blurred, and is saved as PNG or JPEG, greyscale or RGB.

Usage:
    python scripts/render_form_pages.py OUT_DIR [--count 100] [--seed 4242]
                                                [--mnist PATH]

Writes OUT_DIR/forms/NNNN.png|jpg and OUT_DIR/truth.csv with the columns
file,kind,truth,traits.  Every image depends only on (seed, index).
"""

import argparse
import csv
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

DEFAULT_MNIST = Path("/root/.cache/mnist-toolkit/mnist.npz")

SHEETS = {
    "a4": (210.0, 297.0),  # width, height in mm
    "letter": (8.5 * 25.4, 11.0 * 25.4),
}
DPIS = (150, 200, 240, 300)

FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)

TITLES = (
    "APPLICATION FORM",
    "Customer Registration",
    "ORDER FORM",
    "Survey Response Sheet",
    "Membership Renewal",
    "Stock Count Record",
    "Attendance Sheet",
    "EXAM ANSWER SHEET",
    "Delivery Note",
    "Patient Intake Form",
    "Time Sheet",
    "Inventory Return Slip",
)

INSTRUCTIONS = (
    "Please write one digit per box in black or blue ink.",
    "Use BLOCK CAPITALS. Keep inside the boxes.",
    "For office use: do not write below this line.",
    "Complete all fields. One character per box.",
)

LABELS = (
    "Account",
    "Account No.",
    "Postcode",
    "Age",
    "Code:",
    "Qty",
    "Quantity",
    "Item",
    "Ref.",
    "Room",
    "Year",
    "Month",
    "Day",
    "Score",
    "Group",
    "ID",
    "Branch",
    "Unit",
    "Total",
    "Count",
    "Class",
    "Seat",
    "Dept.",
    "Grade",
    "Floor",
    "Ext.",
    "Number",
    "Batch",
    "Lot",
    "Zone:",
)

FOOTERS = ("Form 12-B rev 3", "Page 1 of 1", "F-204 (2019)", "OFFICE COPY", "Retain for your records")

RULE_LABELS = ("Signature", "Date", "Name", "Comments", "")


# --------------------------------------------------------------------------
# small helpers


def mm_to_px(mm, dpi):
    return mm * dpi / 25.4


def pick(rng, items):
    return items[int(rng.integers(len(items)))]


def text_scale_for_height(font, cap_px):
    """Font scale so that a capital letter is about cap_px pixels tall."""
    (_, base_h), _ = cv2.getTextSize("H", font, 1.0, 1)
    return cap_px / base_h


def put_text(img, text, x, y_baseline, font, cap_px, colour, rng):
    """Draw text with its baseline at y; return the text width in pixels."""
    scale = text_scale_for_height(font, cap_px)
    thickness = max(1, int(round(cap_px * rng.uniform(0.06, 0.11))))
    (w, _), _ = cv2.getTextSize(text, font, scale, thickness)
    cv2.putText(img, text, (int(x), int(y_baseline)), font, scale, colour, thickness, cv2.LINE_AA)
    return w


def fill_rect(img, x0, y0, x1, y1, colour):
    """Fill the pixel rectangle [x0, x1) x [y0, y1)."""
    img[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = colour


def draw_box(img, x, y, w, h, lw, colour):
    """Draw a box outline of outer size w x h with walls lw pixels thick."""
    fill_rect(img, x, y, x + w, y + lw, colour)  # top
    fill_rect(img, x, y + h - lw, x + w, y + h, colour)  # bottom
    fill_rect(img, x, y, x + lw, y + h, colour)  # left
    fill_rect(img, x + w - lw, y, x + w, y + h, colour)  # right


# --------------------------------------------------------------------------
# colours


def paper_colour(rng):
    tone = rng.uniform(225, 250)
    if rng.random() < 0.35:  # cream: a little less blue, a touch less green
        warm = rng.uniform(2, 10)
        return np.array([tone, tone - warm * 0.4, tone - warm], np.float32)
    return np.array([tone, tone, tone], np.float32)


def print_colour(rng):
    kind = pick(rng, ("black", "black", "grey", "blue", "red"))
    if kind == "black":
        v = rng.uniform(15, 45)
        return kind, (v, v, v)
    if kind == "grey":
        v = rng.uniform(60, 95)
        return kind, (v, v, v)
    if kind == "blue":
        return kind, (rng.uniform(20, 60), rng.uniform(50, 90), rng.uniform(140, 190))
    return kind, (rng.uniform(170, 215), rng.uniform(30, 70), rng.uniform(30, 70))


def ink_colour(rng):
    kind = pick(rng, ("black", "blue", "grey"))
    if kind == "black":
        v = rng.uniform(10, 35)
        return np.array([v, v, v], np.float32)
    if kind == "blue":
        return np.array([rng.uniform(15, 40), rng.uniform(25, 55), rng.uniform(90, 140)], np.float32)
    v = rng.uniform(45, 75)
    return np.array([v, v, v], np.float32)


# --------------------------------------------------------------------------
# the page


def make_paper(rng, height, width, paper):
    """Paper colour with fine grain and soft blotchy texture, as uint8 RGB."""
    grain = rng.normal(0.0, rng.uniform(1.0, 3.0), (height, width)).astype(np.float32)
    small = rng.normal(0.0, 1.0, (height // 16 + 2, width // 16 + 2)).astype(np.float32)
    blotch = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    grain += blotch * rng.uniform(0.3, 1.2)
    page = paper[None, None, :] + grain[:, :, None]
    return np.clip(page, 0, 255).astype(np.uint8)


def layout_form(rng, dpi, width, height):
    """Choose the fields and ruled lines; returns a plan as a dict."""

    def px(mm):
        return mm_to_px(mm, dpi)

    margin = int(px(rng.uniform(15, 25)))

    lw = max(1, int(round(px(rng.uniform(0.2, 0.5)))))
    base_w = px(rng.uniform(4, 9))
    base_aspect = rng.uniform(1.0, 1.3)
    grid = bool(rng.random() < 0.5)
    gap = int(round(px(rng.uniform(1, 3))))
    label_above = bool(rng.random() < 0.3)
    label_cap = px(rng.uniform(1.5, 2.5))

    n_fields = int(rng.integers(2, 7))
    fields = []
    for _ in range(n_fields):
        if rng.random() < 0.25:  # an odd field with a different box size
            bw = px(rng.uniform(4, 9))
            aspect = rng.uniform(1.0, 1.3)
        else:
            bw, aspect = base_w, base_aspect
        bw = max(int(round(bw)), 2 * lw + 6)
        bh = max(int(round(bw * aspect)), bw)
        fields.append(
            {
                "label": pick(rng, LABELS),
                "n": int(rng.integers(1, 11)),
                "w": bw,
                "h": bh,
            }
        )
    n_rules = int(rng.integers(1, 4)) if rng.random() < 0.5 else 0

    return {
        "margin": margin,
        "lw": lw,
        "grid": grid,
        "gap": gap,
        "label_above": label_above,
        "label_cap": label_cap,
        "fields": fields,
        "n_rules": n_rules,
    }


def box_positions(x_start, n, w, lw, grid, gap):
    """Left edges of a row of n boxes."""
    step = (w - lw) if grid else (w + gap)
    return [x_start + i * step for i in range(n)]


def draw_form(rng, page, dpi, paper, plan):
    """Draw the printed form; returns the list of all boxes drawn."""
    height, width = page.shape[:2]

    def px(mm):
        return mm_to_px(mm, dpi)

    _, colour = print_colour(rng)
    font = pick(rng, FONTS)
    margin = plan["margin"]
    lw = plan["lw"]

    # Title, optional instruction line and rule under the header.
    title_cap = px(rng.uniform(2.2, 3.0))
    y = margin + int(title_cap)
    title = pick(rng, TITLES)
    title_font = pick(rng, FONTS)
    scale = text_scale_for_height(title_font, title_cap)
    (tw, _), _ = cv2.getTextSize(title, title_font, scale, 2)
    if rng.random() < 0.5:
        tx = (width - tw) // 2
    else:
        tx = margin
    put_text(page, title, tx, y, title_font, title_cap, colour, rng)
    y += int(px(rng.uniform(4, 7)))
    if rng.random() < 0.5:
        cap = px(rng.uniform(1.5, 2.0))
        y += int(cap)
        put_text(page, pick(rng, INSTRUCTIONS), margin, y, font, cap, colour, rng)
        y += int(px(rng.uniform(3, 5)))
    if rng.random() < 0.5:
        fill_rect(page, margin, y, width - margin, y + lw, colour)
        y += lw
    top = y + int(px(rng.uniform(6, 12)))

    bottom = height - margin - int(px(rng.uniform(10, 25)))
    if rng.random() < 0.5:
        cap = px(rng.uniform(1.5, 2.0))
        put_text(page, pick(rng, FOOTERS), margin, height - margin, font, cap, colour, rng)

    tint = None
    if rng.random() < 0.2:
        delta = rng.uniform(10, 25)
        tint = tuple(float(v) for v in np.clip(paper - delta, 0, 255))

    # Stack fields and ruled lines down the page in a random order.
    items = [("field", f) for f in plan["fields"]] + [("rule", None)] * plan["n_rules"]
    order = rng.permutation(len(items))
    slot = (bottom - top) / len(items)
    label_cap = plan["label_cap"]
    boxes = []
    for slot_index, item_index in enumerate(order):
        kind, field = items[item_index]
        slot_top = top + slot_index * slot
        if kind == "rule":
            ry = int(slot_top + rng.uniform(0.3, 0.7) * slot)
            x0 = margin
            text = pick(rng, RULE_LABELS)
            if text:
                x0 += put_text(page, text, margin, ry - lw, font, label_cap, colour, rng) + int(px(2))
            fill_rect(page, x0, ry, width - margin, ry + lw, colour)
            continue

        bw, bh, n = field["w"], field["h"], field["n"]
        need_above = int(label_cap + px(3)) if plan["label_above"] else 0
        free = max(0.0, slot - bh - need_above)
        by = int(slot_top + need_above + rng.uniform(0.2, 0.8) * free)
        label = field["label"]
        if plan["label_above"]:
            put_text(page, label, margin, by - int(px(1.5)), font, label_cap, colour, rng)
            bx = margin + int(px(rng.uniform(0, 10)))
        else:
            baseline = by + (bh + label_cap) / 2
            label_w = put_text(page, label, margin, baseline, font, label_cap, colour, rng)
            bx = margin + label_w + int(px(rng.uniform(3, 10)))
        # Drop boxes that would run past the right margin.
        xs = box_positions(bx, n, bw, lw, plan["grid"], plan["gap"])
        xs = [x for x in xs if x + bw <= width - margin] or xs[:1]
        if tint is not None:
            for x in xs:
                fill_rect(page, x, by, x + bw, by + bh, tint)
        for x in xs:
            draw_box(page, x, by, bw, bh, lw, colour)
            boxes.append({"x": x, "y": by, "w": bw, "h": bh, "lw": lw})
    return boxes, tint is not None


# --------------------------------------------------------------------------
# the digit


def solid_bbox(alpha, threshold=0.35):
    """Bounding box (x0, y0, x1, y1), exclusive ends, of pixels above threshold."""
    ys, xs = np.nonzero(alpha > threshold)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def place_digit(rng, page, digit_img, box):
    """Blend one MNIST digit into the box; returns (height fraction, touch side)."""
    lw = box["lw"]
    ix0, iy0 = box["x"] + lw, box["y"] + lw
    ix1, iy1 = box["x"] + box["w"] - lw, box["y"] + box["h"] - lw
    inner_w, inner_h = ix1 - ix0, iy1 - iy0

    # Crop the digit to its ink and pad by one empty pixel all round.
    alpha28 = digit_img.astype(np.float32) / 255.0
    ys, xs = np.nonzero(alpha28 > 0)
    crop = np.pad(alpha28[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 1)
    sx0, sy0, sx1, sy1 = solid_bbox(crop)
    solid_w, solid_h = sx1 - sx0, sy1 - sy0

    # Height 55-85 % of the inner height, but keep the width inside the box.
    frac = rng.uniform(0.55, 0.85)
    max_frac = 0.92 * inner_w * solid_h / (solid_w * inner_h)
    frac = min(frac, max_frac)
    scale = frac * inner_h / solid_h
    new_w = max(1, int(round(crop.shape[1] * scale)))
    new_h = max(1, int(round(crop.shape[0] * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    alpha = np.clip(cv2.resize(crop, (new_w, new_h), interpolation=interp), 0, 1)
    sx0, sy0, sx1, sy1 = solid_bbox(alpha)
    solid_w, solid_h = sx1 - sx0, sy1 - sy0
    frac = solid_h / inner_h

    def free_position(lo_edge, hi_edge, s0, s1):
        """Patch offset keeping the solid ink inside [lo_edge, hi_edge)."""
        margin = max(1, int(round(0.05 * (hi_edge - lo_edge))))
        lo = lo_edge + margin - s0
        hi = hi_edge - margin - s1
        if hi < lo:
            return int(round((lo_edge + hi_edge - s0 - s1) / 2))
        return int(rng.integers(lo, hi + 1))

    px = free_position(ix0, ix1, sx0, sx1)
    py = free_position(iy0, iy1, sy0, sy1)
    touch = "none"
    if rng.random() < 0.3:
        touch = pick(rng, ("top", "bottom", "left", "right"))
        overlap = int(rng.integers(0, 3))
        if touch == "left":
            px = ix0 - overlap - sx0
        elif touch == "right":
            px = ix1 + overlap - sx1
        elif touch == "top":
            py = iy0 - overlap - sy0
        else:
            py = iy1 + overlap - sy1

    # Alpha-blend the ink: MNIST intensity is the ink coverage.
    ink = ink_colour(rng)
    alpha = alpha * rng.uniform(0.85, 1.0)
    h, w = page.shape[:2]
    x0, y0 = max(px, 0), max(py, 0)
    x1, y1 = min(px + new_w, w), min(py + new_h, h)
    a = alpha[y0 - py : y1 - py, x0 - px : x1 - px, None]
    region = page[y0:y1, x0:x1].astype(np.float32)
    page[y0:y1, x0:x1] = np.clip(region * (1 - a) + ink * a + 0.5, 0, 255).astype(np.uint8)
    return frac, touch


# --------------------------------------------------------------------------
# scanner effects


def scanner_effects(rng, page, paper):
    """Uneven illumination, optional streak and sensor noise; returns traits."""
    traits = []
    height, width = page.shape[:2]
    img = page.astype(np.float32)

    amount = rng.uniform(0, 15)
    angle = rng.uniform(0, 2 * np.pi)
    xs = np.linspace(0, 1, width, dtype=np.float32)[None, :] * np.cos(angle)
    ys = np.linspace(0, 1, height, dtype=np.float32)[:, None] * np.sin(angle)
    ramp = xs + ys
    ramp -= ramp.min()
    ramp /= max(float(ramp.max()), 1e-6)
    img -= (amount * ramp)[:, :, None]

    if rng.random() < 0.25:
        sx = int(rng.integers(0, width))
        sw = int(rng.integers(1, 4))
        delta = rng.uniform(3, 10) * (1 if rng.random() < 0.7 else -1)
        img[:, sx : sx + sw] -= delta
        traits.append("streak")

    img += rng.normal(0, rng.uniform(0.5, 1.5), (height, width))[:, :, None].astype(np.float32)
    page = np.clip(img + 0.5, 0, 255).astype(np.uint8)

    if rng.random() < 0.4:
        deg = rng.uniform(-3, 3)
        m = cv2.getRotationMatrix2D((width / 2, height / 2), deg, 1.0)
        fill = tuple(float(v) for v in paper)
        page = cv2.warpAffine(
            page, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill
        )
        traits.append(f"rotated={deg:+.1f}")

    if rng.random() < 0.6:
        sigma = rng.uniform(0.3, 0.9)
        page = cv2.GaussianBlur(page, (0, 0), sigma)
        traits.append(f"blur={sigma:.1f}")
    return page, traits


# --------------------------------------------------------------------------
# one sheet


def render_sheet(seed, index, x_test, y_test):
    """Render sheet number `index`; returns (PIL image, extension, truth, traits)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))

    sheet = pick(rng, ("a4", "letter"))
    dpi = int(pick(rng, DPIS))
    w_mm, h_mm = SHEETS[sheet]
    width = int(round(mm_to_px(w_mm, dpi)))
    height = int(round(mm_to_px(h_mm, dpi)))

    paper = paper_colour(rng)
    page = make_paper(rng, height, width, paper)
    plan = layout_form(rng, dpi, width, height)
    boxes, tinted = draw_form(rng, page, dpi, paper, plan)

    box = boxes[int(rng.integers(len(boxes)))]
    k = int(rng.integers(len(x_test)))
    truth = int(y_test[k])
    frac, touch = place_digit(rng, page, x_test[k], box)

    page, effect_traits = scanner_effects(rng, page, paper)

    traits = [
        sheet,
        f"dpi={dpi}",
        f"box={box['w']}x{box['h']}",
        f"lw={box['lw']}",
        "grid" if plan["grid"] else "gapped",
        f"fields={len(plan['fields'])}",
        f"digit_h={frac:.2f}",
        f"touch={touch}",
        f"mnist={k}",
    ]
    if tinted:
        traits.append("tint")
    if plan["n_rules"]:
        traits.append(f"rules={plan['n_rules']}")
    traits += effect_traits

    if rng.random() < 0.5:
        image = Image.fromarray(page, "RGB").convert("L")
        traits.append("grey")
    else:
        image = Image.fromarray(page, "RGB")
        traits.append("rgb")

    if rng.random() < 0.6:
        ext, save_args = "png", {"compress_level": 3}
        traits.append("png")
    else:
        quality = int(rng.integers(75, 96))
        ext, save_args = "jpg", {"quality": quality}
        traits.append(f"jpeg={quality}")
    return image, ext, save_args, truth, " ".join(traits)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    args = parser.parse_args()

    with np.load(args.mnist) as data:
        x_test, y_test = data["x_test"], data["y_test"]

    forms_dir = args.out_dir / "forms"
    forms_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(args.count):
        image, ext, save_args, truth, traits = render_sheet(args.seed, index, x_test, y_test)
        rel = f"forms/{index:04d}.{ext}"
        image.save(args.out_dir / rel, **save_args)
        rows.append((rel, "forms", str(truth), traits))

    with open(args.out_dir / "truth.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "kind", "truth", "traits"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} sheets to {os.fspath(args.out_dir)}")


if __name__ == "__main__":
    main()
