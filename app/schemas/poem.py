"""Schemas for /generate/poem and /generate/poem/stream; the v2 door validates its parameters with them too.

The request's limits live here and only here: every door that writes a poem validates it with PoemRequest,
and the generator trusts what passed (it checks only the vocabulary and the tone patterns).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Below 0.05 sampling is already all but greedy; far below, `logits / temperature` overflows to inf and the
# sampling distribution to NaN (a fuzzer found 6.6e-153 → 500). Hence a floor, not just > 0.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 2.0
MAX_SEED = 2**53  # JSON's exact-integer range: a browser can send any seed back unchanged


class PoemRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # numbers are JSON numbers: "5" or true for top_k is a 422, as the schema says
        json_schema_extra={
            "examples": [{"start": "春", "acrostic": None, "line_num": 4, "line_length": 7, "temperature": 0.8,
                          "top_k": 20, "seed": 42, "rhyme": "pingshui", "tones": "none"}]
        },
    )  # fmt: skip

    start: str = Field(
        "", max_length=7, description="Characters the poem begins with (at most one line's worth); may be empty."
    )
    acrostic: str | None = Field(
        None, max_length=8, description="藏头诗: one head character per line, instead of `start` (length = line_num)."
    )
    theme: str | None = Field(
        None,
        description="Free Chinese text; jieba picks its keywords and their characters become the start "
        "(or the acrostic heads, with theme_as='acrostic'). Instead of `start`/`acrostic`.",
    )
    theme_as: Literal["start", "acrostic"] = Field("start", description="How the theme's characters are used.")
    line_num: Literal[4, 8] = Field(4, description="Lines (句) as poets count them: 4 = 绝句, 8 = 律诗.")
    line_length: Literal[5, 7] = Field(7, description="Characters per line: 5 (五言) or 7 (七言).")
    temperature: float = Field(
        0.8, ge=MIN_TEMPERATURE, le=MAX_TEMPERATURE, allow_inf_nan=False,
        description=f"Sampling temperature, {MIN_TEMPERATURE}–{MAX_TEMPERATURE:g}: lower is safer, higher is bolder.",
    )  # fmt: skip
    top_k: int = Field(20, ge=1, le=500, description="Sample only among the k most likely characters.")
    rhyme: Literal["pingshui", "xinyun", "none"] | None = Field(
        None,
        description="The even lines end in one rhyme group, no rhyme character twice; odd lines after the first end "
        "oblique. pingshui = 平水韵 (Tang regulated verse), xinyun = 中华新韵 (modern Mandarin), none = free. "
        "Omitted: pingshui for a model with rhyme tables (the committed poem model), none for one without.",
    )
    tones: Literal["none", "loose", "strict"] = Field(
        "none",
        description="平仄: strict = one of the standard patterns of 绝句/律诗 at every character; loose = the same "
        "with 一三五不论 (the 1st, 3rd, 5th characters free); none = line ends only.",
    )
    seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="Same seed and request → same poem; omitted = random."
    )


class Poem(BaseModel):
    poem: str = Field(description="The poem, one couplet (two lines) per text line")
    lines: list[str] = Field(description="Each line with its closing mark (，or 。)")
    seed: int = Field(description="The seed used: send it back to get the same poem")
    model_version: str = Field(description="Version of the poem model that answered")
    rhyme_group: str | None = Field(None, description="The rhyme group of the even lines (absent when rhyme='none')")
    rhymes: list[bool] | None = Field(None, description="Per line: does it end on a rhyme (absent when rhyme='none')")
