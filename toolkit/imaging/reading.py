"""How the model's scores choose a reading among the segmenter's candidates (`toolkit.imaging.segment`): which
candidate on a page is the digit (`pick`), and which spans of a group of touching digits are its digits
(`choose`). Both run where the records are made, on the model's rows for the candidates, in every engine.

Sureness is the log-odds of a candidate's likeliest class over its second: softmax confidences saturate at 1.0
for a whole "16" read as 6 and for its two halves alike; the odds do not.
"""

from __future__ import annotations

import numpy as np

from toolkit.contract import NOT_DIGIT_DOUBT, NOT_DIGIT_THRESHOLD, NUM_CLASSES
from toolkit.imaging.common import Normalized
from toolkit.imaging.digits import COMPARABLE

PICK_PLANS = ("pick:", "keep:")  # the plans of single-digit candidates (see `pick`)
NO_RIVAL = "ef"  # a candidate marked so (cut by the border, faint) is no rival to a chosen one not marked so
SURE_CAP = 8.0  # log-odds: sureer than this counts the same (p ~ 0.9997 over the second class)
CUT_COST = 1.0  # each cut of a group into one more digit costs this: a split must be that much surer
REJECTED_COST = 8.0  # a span the not_digit output rejects (a half digit, two digits in one) costs this more
DOUBT_COST = 10.0  # ... and one it doubts, short of rejecting it, this x -ln(1 - not_digit): 1.1 at 0.1, 3.6 at 0.3
WIDE_COST = 10.0  # ... and a span wider than the digits' height, this much per unit of width over it
SHORT = 0.6  # a span whose ink is shorter than this x the digits' height is a fragment ...
SHORT_COST = 6.0  # ... and costs this
NARROW = 0.3  # a span narrower than this x the digits' height read as anything but a 1 ...
NARROW_COST = 4.0  # ... costs this
FULL_ONE = 0.8  # a span the model rejects is kept in a number when it reads 1 and is this x the digits' height
AMBIGUOUS = 1.01  # readings with another count of digits within this much of the best are flagged: just over
# CUT_COST, so that of two readings one digit apart whose digits are all sure ('41' read whole as a sure 4, or cut
# as a sure 4 and a sure 1), the one read is flagged
KEEP_SHARE = 0.2  # a digit's own scan: a candidate lighter than this share of the heaviest is never its digit
BOXED_SHARE = 0.1  # ... or, standing in a form's box, this share (a label beside the box outweighs its digit)
KEPT_MARGIN = 1.0  # a digit read with the line it touched kept must be this much surer than without it
BOXED_DOUBT = 0.9  # on a page whose every candidate the model rejects, one in a form's box under this not_digit ...
BOXED_SURE = 0.9  # ... that reads as a digit at least this likely is still read (flagged: `_doubted_in_box`)


def pick(plan: str, scored: np.ndarray) -> tuple[int | None, bool, bool]:
    """Single-digit mode with several candidates (`plan`: see `_pick_plan`; `scored`: the model's rows for
    them, heaviest first, with the not_digit column when the model has one): which one is the digit, None when
    the model rejects them all on a page (a "keep:" plan, a smaller image, keeps the one the model rejects
    least, `_least_rejected`); whether the choice is ambiguous (another accepted candidate has COMPARABLE of
    the chosen one's ink; one the image's border cuts, marked "e", is no rival to one it does not, nor one of
    faint ink, marked "f", to a bold one, nor one the model doubts is a digit, not_digit at NOT_DIGIT_DOUBT or
    above; and the choice of one of faint ink, "f", is a guess whatever its rivals, as is the choice of one out
    of the boxes when one at least as heavy stands in one); and whether the chosen one is wider than one digit.

    The model decides what is a digit: candidates it rejects (not_digit at NOT_DIGIT_THRESHOLD or above) are
    passed over, so a line of writing, a box corner or a shadow heavier than the digit does not become it, and
    so are those it doubts (NOT_DIGIT_DOUBT or above) that are lighter than one it rejects, unless they stand in
    a form's box ("b") and the rejected one does not (a printed label beside the box). A mark the border
    cuts ("e") read as a 1 is never the digit: a straight mark into the border is a sheet's, a tile's or a
    shadow's edge.
    Of a candidate and its twin with the line it touched kept ("k"), the twin stays when it is surer by KEPT_MARGIN,
    or when the candidate is not accepted (rejected, or doubted beside a heavier mark rejected), the twin is, and
    both read the same digit (a 7 whose bar lay along its box's top, cut in two where the line was erased; standing
    in a form's box, whatever both read: a digit that lost a stroke with the line reads as another digit without
    it). On a page ("pick:"), one read as no digit (faint ink, "p", or a lying bar read as a 1, "t": `unread`) gives
    way to an accepted one that is not. A bar straighter than a pen draws read as a 1 ("s", `straight_one`: a box's
    side, a piece of a rule) gives way to an accepted one that is not such a bar, and stays a rival to it. Among
    those left, the heaviest is the digit; in a "keep:" plan none lighter than KEEP_SHARE of the heaviest is (a
    speck on a box's rule is no rival to a digit the model doubts), nor, standing in a form's box ("b"), lighter
    than BOXED_SHARE (a label printed beside its box outweighs its digit). A candidate out of the boxes is no rival
    to one in them. When none is accepted, a "keep:" plan still reads the one the model doubts least
    (`_least_rejected`; ambiguous when that is not the heaviest). A model without not_digit accepts every candidate,
    and the heaviest is read, as the segmenter alone would. On a page whose candidates the model rejects all, one
    standing in a form's box that it rejects short of sure is read (`_doubted_in_box`), unless it is lighter than a
    mark the model rejects in the boxes (a box's debris on a blank form)."""
    entries = _entries(plan)
    masses = [float(v.rstrip("wekfbstp")) for v in entries]
    boxed = ["b" in v for v in entries]
    if scored.shape[1] > NUM_CLASSES:
        rejection = scored[:, NUM_CLASSES]
        accepted = [i for i in range(len(scored)) if rejection[i] < NOT_DIGIT_THRESHOLD]
        # A mark lighter than one the model rejected (dust, a shadow, a box's corner) must not be doubted either:
        # on a sheet of such marks, a lighter one the model doubts is one more of them. A mark rejected out of
        # the form's boxes (a label, a row of printing) says nothing of one standing in a box.
        heavier = [
            any(j not in accepted and not _twins(entries, j, i) and (boxed[j] or not boxed[i]) for j in range(i))
            for i in range(len(scored))
        ]
        accepted = [i for i in accepted if rejection[i] < NOT_DIGIT_DOUBT or not heavier[i]]
    else:
        accepted, heavier = list(range(len(scored))), [False] * len(scored)
    digits = scored[:, :NUM_CLASSES].argmax(axis=1)
    edges = edge_ones(plan, scored)
    accepted = [i for i in accepted if i not in edges]
    if plan.startswith("keep:"):  # a digit's own scan: a mark far lighter than its heaviest is not its digit
        accepted = [i for i in accepted if masses[i] >= (BOXED_SHARE if boxed[i] else KEEP_SHARE)]
    # A candidate and its alternative with the line it touched kept ("k"): the surer one that is accepted.
    sure = _span_scores(scored[:, :NUM_CLASSES])  # as digits, whatever not_digit says
    losers = set()
    for i in [i for i, entry in enumerate(entries) if entry.endswith("k") and i in accepted]:
        loser = i - 1 if sure[i] > sure[i - 1] + KEPT_MARGIN else i  # the line kept must make it surer
        if i - 1 not in accepted and (digits[i] == digits[i - 1] or boxed[i]):
            loser = i - 1  # ... or be the one the model takes for a digit, when both read the same or it is boxed
        losers.add(loser)
        if loser in accepted:
            accepted.remove(loser)
    if not accepted and plan.startswith("keep:"):  # a digit's own scan keeps the likeliest digit, flagged
        left = [i for i in range(len(scored)) if i not in edges and i not in losers]
        at = _least_rejected(masses, boxed, scored, left)
        return at, at != 0, "w" in entries[at]  # passing over the heaviest is a guess
    if not accepted:  # none is a digit: on a page, no digit, unless a form's box holds one the model only doubts
        left = [i for i in range(len(scored)) if i not in edges and i not in losers and not heavier[i]]
        kept = _doubted_in_box(boxed, scored, left)
        return kept, False, kept is not None and "w" in entries[kept]
    if plan.startswith("pick:"):  # on a page what is read as no digit (`unread`) is no rival to a digit
        accepted = [i for i in accepted if unread(plan, scored, i) is None] or accepted
    contenders = accepted  # a straight bar read as a 1 gives way to a mark that is not one, and stays its rival
    accepted = [i for i in accepted if not straight_one(plan, scored, i)] or accepted
    best = accepted[0]
    doubted = (
        scored[:, NUM_CLASSES] >= NOT_DIGIT_DOUBT if scored.shape[1] > NUM_CLASSES else np.zeros(len(scored), bool)
    )
    rivals = [
        i
        for i in contenders
        if i != best
        and not _twins(entries, best, i)
        and all(mark in entries[best] or mark not in entries[i] for mark in NO_RIVAL)
        and not doubted[i]
        and (boxed[i] or not boxed[best])
    ]
    guessed = "f" in entries[best]  # faint ink read because a bolder mark was rejected
    # ... or a mark out of the form's boxes read while one at least as heavy stands in a box, whatever passed it
    # over (a letter of the box's label read over the digit in the box, rejected)
    guessed |= not boxed[best] and any(boxed[i] and masses[i] >= masses[best] for i in range(len(entries)))
    return best, guessed or any(masses[i] >= COMPARABLE * masses[best] for i in rivals), "w" in entries[best]


def _least_rejected(masses: list[float], boxed: list[bool], scored: np.ndarray, left: list[int]) -> int:
    """When the model accepts none of a digit's own scan's candidates: the one it doubts least among `left` that
    weigh their share (KEEP_SHARE of the heaviest, BOXED_SHARE standing in a form's box), else the heaviest,
    whatever it is (a digit's own scan always reads a digit, flagged: a lone 1 its border cuts, "e", is read
    so, as a 1 written down the whole height of its crop is). A label beside a form's box, or the digit read
    with its box's stubs, is rejected more surely than the digit; a model without not_digit rejects none."""
    fit = [i for i in left if masses[i] >= (BOXED_SHARE if boxed[i] else KEEP_SHARE)]
    if not fit or scored.shape[1] <= NUM_CLASSES:
        return 0
    return min(fit, key=lambda i: float(scored[i, NUM_CLASSES]))


def _doubted_in_box(boxed: list[bool], scored: np.ndarray, left: list[int]) -> int | None:
    """On a page whose every candidate the model rejects: the one among `left` standing in a form's box that it
    rejects least, when that is under BOXED_DOUBT and the candidate reads as a digit at least BOXED_SURE likely,
    else None. A small digit in a whole form's box, scanned soft or photographed, is doubted as dust and shading
    are (not_digit 0.5-0.9) but read surely as its digit; an empty box's remnant reads as no digit surely. The
    record keeps the model's doubt (`not-a-digit`, low confidence): it asks for a look either way."""
    if scored.shape[1] <= NUM_CLASSES:  # a model without not_digit rejects none
        return None
    fit = [
        i
        for i in left
        if boxed[i] and scored[i, NUM_CLASSES] < BOXED_DOUBT and scored[i, :NUM_CLASSES].max() >= BOXED_SURE
    ]
    return min(fit, key=lambda i: float(scored[i, NUM_CLASSES])) if fit else None


def edge_ones(plan: str, scored: np.ndarray) -> list[int]:
    """The single-digit candidates that the image's border cuts ("e") and that read as a 1: a straight mark into
    the border is a sheet's, a tile's or a shadow's edge, never the digit (`pick`)."""
    digits = scored[:, :NUM_CLASSES].argmax(axis=1)
    return [i for i, entry in enumerate(_entries(plan)) if "e" in entry and digits[i] == 1]


def unread(plan: str, scored: np.ndarray, chosen: int) -> str | None:
    """Why the candidate `pick` chose is read as no digit after all, or None: on a page ("pick:"), ink barely
    darker than the paper ("p", `faint-ink`) is a hair, a streak or shading far more often than a digit, and so
    is a 1 lying further over than a 1 is written ("t", `lying-stroke`), unless its twin with the line it touched
    kept reads another digit (`differing_twin`: the record reads it from both views, not as the bar's 1). A
    digit's own scan ("keep:") reads either, flagged. One rule for the records (`toolkit.predict.pipeline`) and
    for `decide`."""
    if not plan.startswith("pick:"):
        return None
    if faint(plan, chosen):
        return "faint-ink"
    if lying_one(plan, scored, chosen) and differing_twin(plan, scored, chosen) is None:
        return "lying-stroke"
    return None


def faint(plan: str, chosen: int) -> bool:
    """Whether the chosen single-digit candidate is of ink barely darker than the paper ("p"): on blank sheets,
    hairs, streaks and shading read so, sure of their digit and not rejected; written digits seldom do."""
    return "p" in _entries(plan)[chosen]


def straight_one(plan: str, scored: np.ndarray, chosen: int) -> bool:
    """Whether the chosen single-digit candidate reads as a 1 and is a bar straighter than a pen draws ("s",
    `common.ruler_straight`): a scanner's streak, a seam between paper tones or a piece of a rule reads so."""
    return "s" in _entries(plan)[chosen] and int(scored[chosen, :NUM_CLASSES].argmax()) == 1


def _twins(entries: list[str], j: int, i: int) -> bool:
    """Whether candidate i is candidate j read with the line it touched kept ("k", offered right after it)."""
    return j == i - 1 and entries[i].endswith("k")


def cut_by_border(plan: str, chosen: int) -> bool:
    """Whether the chosen single-digit candidate is one the image's border cuts ("e")."""
    return "e" in _entries(plan)[chosen]


def differing_twin(plan: str, scored: np.ndarray, chosen: int) -> int | None:
    """The chosen single-digit candidate's twin (the same ink read with the line it touched kept, "k", or the
    one it is that twin of) when that twin reads another digit, else None: the erased line took something the
    reading depends on, the record says `touches-line` and is read from both views (`joint`). Judged on the
    candidate read, whichever it is: the segmenter looks only at the heaviest, and the model may read another."""
    return _read_otherwise(_entries(plan), scored[:, :NUM_CLASSES].argmax(axis=1), chosen)


def _read_otherwise(entries: list[str], digits: np.ndarray, k: int) -> int | None:
    """Candidate k's twin ("k": the same ink with the line it touched kept, offered right after it, or the one
    it is that twin of) when that twin reads another digit (`digits`: each candidate's), else None."""
    twins = [j for j in (k - 1, k + 1) if 0 <= j < len(entries) and _twins(entries, min(j, k), max(j, k))]
    return next((j for j in twins if digits[j] != digits[k]), None)


def joint(probs: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The digit probabilities of one digit seen two ways (a digit touching a line, with the line erased and
    with it kept under its stroke) that read as different digits: their product, normalised. Neither view is
    the digit as written (erasing takes the stroke lying along the line, keeping adds the line beyond it), and
    the digit both find likely beats either one's surest guess: on the tuning renderings' form boxes and pages,
    of 47 such disagreements the candidate chosen read 21 right, the product 25."""
    both = np.maximum(probs[:NUM_CLASSES].astype(np.float64), 1e-12) * np.maximum(other[:NUM_CLASSES], 1e-12)
    return both / both.sum()


def spans_kept_agree(plan: str | None, scored: np.ndarray, chosen: list[int]) -> bool:
    """Whether every digit `choose` read from a number (`chosen`) that was also offered with the line it touched
    kept ("k", right after it) reads the same digit either way: the erased line took nothing the reading
    depends on (as `differing_twin` says for a single digit). True when none was offered so."""
    if plan is None:
        return True
    entries, digits = _number_entries(plan), scored[:, :NUM_CLASSES].argmax(axis=1)
    return all(_read_otherwise(entries, digits, k) is None for k in chosen)


def _entries(plan: str) -> list[str]:
    """A single-digit plan's candidates, e.g. "pick:1w,0.5k" -> ["1w", "0.5k"] (see `segment._pick_plan`)."""
    return plan.split(":", 1)[1].split(",")


def tensors(result: Normalized) -> np.ndarray:
    """All the tensors of a result for the model, candidates included: (n, 28, 28)."""
    stacked = result.tensor.reshape(-1, *result.tensor.shape[-2:])
    return stacked if result.others is None else np.concatenate([stacked, result.others])


def decide(result: Normalized, scored: np.ndarray) -> list[int]:
    """Which of `tensors(result)` are the digits read, given the model's rows for them (with the not_digit
    column when the model has one): by `pick` for a page's candidates, by `choose` for a number, all of them
    otherwise; empty when nothing is read."""
    if result.blank:
        return []
    if result.plan and result.plan.startswith(PICK_PLANS):
        at = pick(result.plan, scored)[0]
        return [] if at is None or unread(result.plan, scored, at) else [at]
    return choose(result.plan, scored)[0]


def choose(plan: str | None, scored: np.ndarray) -> tuple[list[int], bool, bool]:
    """Which of a number's tensors are its digits, given the model's rows for them (`scored`: probabilities,
    and the not_digit column when the model has one; `plan`: see `Segmented.plan`, None: every tensor is a
    digit), whether a group of touching digits was cut apart with a digit short of SURE_CAP (a cut whose
    digits are all that sure is no call for a look), and whether the reading is ambiguous.

    A slot "1" is one digit ("1s": one ruler-straight, passed over when it reads as a 1 beside other digits,
    see `straight_slots`). A slot "L<n>:i-j-r-q,..." is a group over-segmented by cuts 0 to n, whose tensors
    are its candidate spans (from cut i to cut j; r, q: the span's ink width and height over the digits' height). A
    span's score is its sureness capped at SURE_CAP, less REJECTED_COST when the model says it is no digit,
    less WIDE_COST per unit of width over the digits' height, less SHORT_COST for a fragment shorter than SHORT
    x the digits' height and NARROW_COST for a sliver narrower than NARROW read as anything but a 1, and less
    KEPT_MARGIN for a span offered again with the line it touched kept ("i-j-r-qk", after the span as cut). A
    span the model doubts without rejecting it costs DOUBT_COST x -ln(1 - not_digit) more in the choice of the
    path (a piece of a 0 read as a sure 1 is doubted more than the 0), not in whether the cut is sure. The
    group's reading is the path of spans from cut 0 to cut n whose spans together fall least short of
    SURE_CAP, less CUT_COST for each digit after the first (dynamic programming): every unsure digit counts,
    so a sure 1 and a sure 6 beat a whole "16" read as a 6, and of two readings with the same least sure
    digit, the one whose other digits are surer wins. It is ambiguous when the best reading with another count
    of digits scores within AMBIGUOUS of it."""
    if plan is None:
        return list(range(len(scored))), False, False
    score = _span_scores(scored)
    doubt = _doubt_costs(scored)
    straight = straight_slots(plan, scored)
    if len(straight) + len(_rejected_slots(plan, scored)) == plan.count(";") + 1:
        straight = []  # such bars and nothing else the model takes for a digit: kept, as a single digit keeps one
    chosen: list[int] = []
    cut = ambiguous = False
    at = 0
    for slot in plan.split(";"):
        if slot[0] == "1":
            if at not in straight:
                chosen.append(at)
            at += 1
            continue
        head, body = slot[1:].split(":", 1)
        entries = body.split(",")
        spans = [_span(entry) for entry in entries]
        twins = np.array([entry.endswith("k") for entry in entries])
        ones = scored[at : at + len(spans), :NUM_CLASSES].argmax(axis=1) == 1
        # A span read with the line it touched kept ("k") must be KEPT_MARGIN surer than without it.
        costs = KEPT_MARGIN * twins + doubt[at : at + len(spans)]
        path, close = _best_path(int(head), spans, score[at : at + len(spans)] - costs, ones)
        chosen.extend(at + k for k in path)
        # Cut apart, and told by a digit short of sure: a split where every digit read is at SURE_CAP is sure.
        cut |= len(path) > 1 and bool(score[[at + k for k in path]].min() < SURE_CAP)
        ambiguous |= close
        at += len(spans)
    return chosen, cut, ambiguous


def read_number(plan: str | None, scored: np.ndarray) -> tuple[list[int], list[int], bool, bool, list[int]]:
    """A number's reading from the model's rows for its tensors (`scored`, `plan`: see `choose`): the tensors
    read as its digits, left to right (those `choose` takes that the model does not reject, not_digit under
    NOT_DIGIT_THRESHOLD, and the 1s cut from a touching neighbour that it does, `rejected_ones`), all those
    `choose` takes, whether a cut was short of sure, whether the reading is ambiguous, and those kept 1s. One
    rule for the records (`toolkit.predict.pipeline`) and for re-reading numbers with other costs
    (`scripts/sweep_number_costs.py`)."""
    chosen, cut, ambiguous = choose(plan, scored)
    ones = rejected_ones(plan, scored, chosen)
    rejected = scored[chosen, NUM_CLASSES] >= NOT_DIGIT_THRESHOLD if scored.shape[1] > NUM_CLASSES else None
    if rejected is None:
        return chosen, chosen, cut, ambiguous, ones
    kept = [k for k, no in zip(chosen, rejected.tolist(), strict=True) if not no or k in ones]
    return kept, chosen, cut, ambiguous, ones


def rejected_ones(plan: str | None, scored: np.ndarray, chosen: list[int]) -> list[int]:
    """Of a number's `chosen` tensors, those the model rejects (not_digit at NOT_DIGIT_THRESHOLD or above) that
    are a span of a cut group ("i-j-r-q") reading as a 1 at least FULL_ONE of the digits' height tall: a 1 cut
    from a touching neighbour keeps a sliver of it, which the model's negatives (strokes, halves of digits)
    taught it to reject, and the reading chose the span for a digit over every other cut. They are kept, the
    record flagged; a lone slot ("1") carries no height, and a rejected one is dropped."""
    if plan is None or scored.shape[1] <= NUM_CLASSES:
        return []
    entries = _number_entries(plan)
    return [
        k
        for k in chosen
        if scored[k, NUM_CLASSES] >= NOT_DIGIT_THRESHOLD
        and entries[k] not in ("1", "1s")
        and _span(entries[k])[3] >= FULL_ONE
        and int(scored[k, :NUM_CLASSES].argmax()) == 1
    ]


def lying_one(plan: str, scored: np.ndarray, chosen: int) -> bool:
    """Whether the chosen single-digit candidate reads as a 1 and is a bar lying further over than a 1 is written
    ("t", `common.lying`): a hair, a fold or a staple on a blank sheet reads so, and few written 1s are."""
    return "t" in _entries(plan)[chosen] and int(scored[chosen, :NUM_CLASSES].argmax()) == 1


def straight_slots(plan: str | None, scored: np.ndarray) -> list[int]:
    """The tensors of a number's one-digit slots marked "1s" (a bar straighter than a pen draws, square to the
    image: `common.ruler_straight`) that read as a 1: a seam between two paper tones or a scanner's streak
    between digits is no digit of theirs, so `choose` passes them over unless they are all there is, and the
    record says `straight-stroke` either way."""
    if plan is None:
        return []
    digits = scored[:, :NUM_CLASSES].argmax(axis=1)
    return [k for k, entry in enumerate(_number_entries(plan)) if entry == "1s" and digits[k] == 1]


def _rejected_slots(plan: str, scored: np.ndarray) -> list[int]:
    """The tensors of a number's one-digit slots that the model rejects (not_digit at NOT_DIGIT_THRESHOLD or
    above; none without that output)."""
    if scored.shape[1] <= NUM_CLASSES:
        return []
    entries = _number_entries(plan)
    return [k for k, entry in enumerate(entries) if entry == "1" and scored[k, NUM_CLASSES] >= NOT_DIGIT_THRESHOLD]


def _span(entry: str) -> tuple[float, ...]:
    """A group's span as its plan writes it ("i-j-r-q", "i-j-r-qk"): (first cut, last cut, width, height)."""
    return tuple(float(v) for v in entry.rstrip("k").split("-"))


def _number_entries(plan: str) -> list[str]:
    """A number's plan (see `choose`), one entry per tensor: a one-digit slot as it stands ("1", "1s"), a group's
    spans ("i-j-r-q", "i-j-r-qk") in their order."""
    return [e for slot in plan.split(";") for e in ([slot] if slot[0] == "1" else slot.split(":", 1)[1].split(","))]


def _span_scores(scored: np.ndarray) -> np.ndarray:
    """Each candidate's score as a digit of a reading, before its width (see `choose`)."""
    probs = scored[:, :NUM_CLASSES].astype(np.float64)
    top = np.sort(probs, axis=1)[:, -2:]
    sure = np.log(np.maximum(top[:, 1], 1e-30)) - np.log(np.maximum(top[:, 0], 1e-30))
    score = np.minimum(sure, SURE_CAP)
    if scored.shape[1] > NUM_CLASSES:
        score -= REJECTED_COST * (scored[:, NUM_CLASSES] >= NOT_DIGIT_THRESHOLD)
    return score


def _doubt_costs(scored: np.ndarray) -> np.ndarray:
    """Each candidate's DOUBT_COST: what the model's doubt that it is a digit costs it in a number's reading,
    short of rejecting it (REJECTED_COST, in `_span_scores`); zero for a model without not_digit."""
    if scored.shape[1] <= NUM_CLASSES:
        return np.zeros(len(scored))
    doubt = np.minimum(scored[:, NUM_CLASSES].astype(np.float64), NOT_DIGIT_THRESHOLD)  # (no log of 0 past it)
    return DOUBT_COST * -np.log1p(-doubt) * (doubt < NOT_DIGIT_THRESHOLD)


def _best_path(
    last: int, spans: list[tuple[float, ...]], score: np.ndarray, ones: np.ndarray
) -> tuple[list[int], bool]:
    """The spans (indices) of the best-scoring path from cut 0 to cut `last`, and whether a path with another
    count of digits comes within AMBIGUOUS. Without any complete path, `_chain` (and ambiguous)."""
    # best[node][count]: for a path reaching cut `node` with `count` digits, the best sum of its spans' scores
    # less SURE_CAP each (minus its digits' total shortfall from sure), and the span that got there.
    best: list[dict[int, tuple[float, int]]] = [{} for _ in range(last + 1)]
    best[0][0] = (0.0, -1)
    for k, (i, j, r, q) in enumerate(spans):
        i, j = int(i), int(j)
        value = float(score[k]) - WIDE_COST * max(0.0, r - 1.0)
        value -= SHORT_COST * (q < SHORT) + NARROW_COST * (r < NARROW and not ones[k])
        for count, (total, _) in list(best[i].items()):
            if total + value - SURE_CAP > best[j].get(count + 1, (-np.inf, -1))[0]:
                best[j][count + 1] = (total + value - SURE_CAP, k)
    if not best[last]:
        return _chain(last, spans), True
    totals = sorted(((total - CUT_COST * (count - 1), count) for count, (total, _) in best[last].items()), reverse=True)
    path, node, count = [], last, totals[0][1]
    while node:
        k = best[node][count][1]
        path.append(k)
        node, count = int(spans[k][0]), count - 1
    return path[::-1], len(totals) > 1 and totals[0][0] - totals[1][0] < AMBIGUOUS


def _chain(last: int, spans: list[tuple[float, ...]]) -> list[int]:
    """Spans (indices) that cover a group once from cut 0 on, for when no path reaches cut `last`: from each
    cut, the span to the nearest cut after it; from a cut no span leaves, on from the next cut. (Two paths of
    one cut are two cuts with no span between them, so "the span to the next cut" would not do.)"""
    path, node = [], 0
    while node < last:
        leaving = [k for k, (i, *_) in enumerate(spans) if int(i) == node]
        if not leaving:
            node += 1
            continue
        k = min(leaving, key=lambda k: spans[k][1])
        path.append(k)
        node = int(spans[k][1])
    return path
