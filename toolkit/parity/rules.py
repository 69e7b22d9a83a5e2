"""The rules parity judges by, in one place: the comparator applies them and the reports state them."""

from __future__ import annotations

from toolkit.contract import NOT_DIGIT_THRESHOLD

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
INT8_MIN_AGREEMENT = 0.99
INT8_MAX_ACCURACY_DELTA = 0.005  # 0.5 percentage points
# The outputs of an int8 export against the reference, as a signal-to-noise ratio (parity.comparator.sqnr_db). Clean
# int8 exports of the zoo and the reference model measured 50-54 dB with 8-bit weights (46 dB for the reference
# with today's 7-bit ones, export.quantize); one layer's weights scaled by 1.25 gave 15-33 dB, by 2 gave 5-25 dB
# (8-bit weights), while 99% of the argmaxes may still agree.
INT8_MIN_OUTPUT_SQNR_DB = 30.0
BATCH_SIZE = 512
BATCH_CHECK_IMAGES = 512  # images run one at a time for the batch-invariance check
KINDS = ("float", "int8")
CHECKS = ("load", "shape", "interface", "finite", "tolerance", "sqnr", "argmax", "not_digit", "accuracy", "batch")
NOT_DIGIT_CUT = NOT_DIGIT_THRESHOLD  # the not_digit decision parity compares is the one predict makes

VERDICT_RULES = {
    "float": "every element within tolerance (|diff| <= atol or |diff| <= rtol*|ref|) and all argmaxes agree",
    "int8": f"outputs' SQNR >= {INT8_MIN_OUTPUT_SQNR_DB:g} dB, argmax agreement >= {INT8_MIN_AGREEMENT:.0%} and "
    f"accuracy within {INT8_MAX_ACCURACY_DELTA * 100:.1f} points of the reference",
    "all": "interface contract, no NaN/Inf, batch 1 == batch 512 within tolerance",
}
