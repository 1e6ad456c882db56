"""Request and response models of the web API; they document it in the OpenAPI schema served at /docs.

Drawings are accepted as any JSON value and validated by `strokes.parse_strokes`, so errors read the same
as on the command line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

from doodlelab.data import limits
from doodlelab.generative.sketch_config import MAX_GUIDANCE

# The drawing as the OpenAPI schema states it, from the input limits that `strokes.parse_strokes` enforces.
Coordinates = Annotated[
    list[Annotated[float, Field(ge=-limits.MAX_COORDINATE, le=limits.MAX_COORDINATE)]],
    Field(max_length=limits.MAX_POINTS, description="xs or ys of one stroke, in canvas units"),
]
Timestamps = Annotated[
    list[Annotated[float, Field(ge=0, le=limits.MAX_TIMESTAMP)]],
    Field(max_length=limits.MAX_POINTS, description="ts of one stroke: milliseconds since the first point"),
]
Stroke = Annotated[
    tuple[Coordinates, Coordinates] | tuple[Coordinates, Coordinates, Timestamps],
    Field(description="one stroke: [xs, ys] or [xs, ys, ts], all of one length"),
]
Drawing = Annotated[list[Stroke], Field(min_length=1, max_length=limits.MAX_STROKES)]
DRAWING_SCHEMA: dict[str, Any] = TypeAdapter(Drawing).json_schema()
DRAWING_DESCRIPTION = (
    "The strokes, as in the Quick, Draw! dataset: `[[xs], [ys]]` per stroke (the simplified format, or raw "
    "canvas coordinates) or `[[xs], [ys], [ts]]` with timestamps (raw canvas coordinates). Limits, the "
    f"same as the command line's: at most {limits.MAX_STROKES} strokes and {limits.MAX_POINTS} points in "
    f"all (at least one); xs, ys (and ts) of a stroke of equal length; coordinates finite numbers within "
    f"{limits.coordinate_range()}; timestamps from 0 to {limits.MAX_TIMESTAMP:g}; the drawing spans 0 "
    f"(a dot) or at least {limits.MIN_EXTENT:g} units, and its strokes scaled to a 255 box are at most "
    f"{limits.MAX_INK_LENGTH:,} units long in all."
)


def _integral(value: object) -> object:
    """A float with no fractional part as the int it equals (JSON Schema counts 3.0 as an integer)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A JSON integer: an int, or a float such as 3.0 (not a bool, not a string, not 3.5).
JsonInt = Annotated[int, BeforeValidator(_integral), Field(strict=True)]
SQUARE = [[[0, 255, 255, 0, 0], [0, 0, 255, 255, 0]]]


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong, in one sentence.")


class ModelsAvailable(BaseModel):
    classifier: bool = Field(description="The 345-category doodle classifier (`POST /api/predict`).")
    digits: bool = Field(description="The NumPy digit network trained on MNIST (`POST /api/digits`).")
    diffusion: bool = Field(description="The diffusion generator (`POST /api/generate`).")
    gan: bool = Field(description="The GAN generator (`POST /api/generate`).")
    sketch: bool = Field(
        False, description="The stroke model (`POST /api/generate` as strokes, `POST /api/complete`)."
    )


class HealthResponse(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok` when the server answers.")
    models: ModelsAvailable = Field(description="Which models were loaded at startup.")


class CategoriesResponse(BaseModel):
    categories: list[str] = Field(description="The 345 Quick, Draw! category names, in the official order.")


class PredictOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top: JsonInt = Field(5, ge=1, le=345, description="How many guesses to return, best first.")


class DigitsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top: JsonInt = Field(3, ge=1, le=10, description="How many guesses to return, best first.")


class PredictRequest(PredictOptions):
    drawing: Any = Field(description=DRAWING_DESCRIPTION, json_schema_extra=DRAWING_SCHEMA, examples=[SQUARE])


class DigitsRequest(DigitsOptions):
    drawing: Any = Field(
        description=DRAWING_DESCRIPTION + " Draw one digit.",
        json_schema_extra=DRAWING_SCHEMA,
        examples=[[[[128, 128], [0, 255]]]],
    )


class Prediction(BaseModel):
    category: str = Field(description="Category name (a digit `0`..`9` for `/api/digits`).")
    probability: float = Field(ge=0, le=1, description="Calibrated probability of this category.")


class PredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="The best guesses, most likely first.")
    bitmap: list[list[int]] = Field(
        description="The 28x28 input the network saw, row by row, 0 (background) to 255 (ink)."
    )
    server_ms: float = Field(description="Time spent preparing the input and running the network, in ms.")


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Literal["diffusion", "gan", "sketch"] = Field(
        "diffusion",
        description="Which generator to use: the bitmap generators (`diffusion`, `gan`) or the stroke model "
        "(`sketch`: the drawings' strokes come back too).",
    )
    category: str = Field(
        max_length=100, description="Category to draw (case-insensitive, `_` for spaces).", examples=["cat"]
    )
    n: int = Field(4, ge=1, le=16, strict=True, description="How many drawings to generate.")
    seed: int | None = Field(
        None,
        ge=0,
        le=2**32 - 1,
        strict=True,
        description="Random seed (same seed, same drawings); none for a random one.",
    )
    steps: int = Field(50, ge=1, le=1000, strict=True, description="Sampling steps (diffusion only).")
    guidance: float | None = Field(
        None,
        ge=0,
        le=20,
        strict=True,
        allow_inf_nan=False,
        description="Classifier-free guidance scale (diffusion and sketch; at most 10 for sketch); none "
        "for the model's own, the one its evaluation used.",
    )
    frames: int = Field(
        0,
        ge=0,
        le=50,
        strict=True,
        description="Diffusion only: also return this many intermediate predictions of the "
        "clean images, evenly spaced over the steps (the denoising animation).",
    )
    temperature: float | None = Field(
        None,
        gt=0,
        le=10,
        strict=True,
        allow_inf_nan=False,
        description="Sketch only: sampling temperature (lower: tidier, less varied); none for the model's.",
    )
    top_p: float | None = Field(
        None,
        gt=0,
        le=1,
        strict=True,
        allow_inf_nan=False,
        description="Sketch only: nucleus size (sample from the likeliest values holding this probability); "
        "none for the model's.",
    )


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drawing: Any = Field(description=DRAWING_DESCRIPTION, json_schema_extra=DRAWING_SCHEMA, examples=[SQUARE])
    category: str | None = Field(
        None,
        max_length=100,
        description="Category the completion should become; none to let the model continue unconditionally.",
        examples=["house"],
    )
    n: int = Field(1, ge=1, le=16, strict=True, description="How many different completions to return.")
    seed: int | None = GenerateRequest.model_fields["seed"]
    temperature: float | None = GenerateRequest.model_fields["temperature"]
    top_p: float | None = GenerateRequest.model_fields["top_p"]
    guidance: float | None = Field(
        None,
        ge=0,
        le=MAX_GUIDANCE,
        strict=True,
        allow_inf_nan=False,
        description="Classifier-free guidance toward the category (0: off; unused without a category); "
        "none for the model's.",
    )


Strokes = list[list[list[float]]]  # a drawing as JSON: [[xs], [ys]] per stroke


class CompleteResponse(BaseModel):
    category: str | None = Field(description="The category used, spelled officially (none: unconditional).")
    seed: int = Field(description="The seed used (chosen at random when the request gave none).")
    completions: list[Strokes] = Field(
        description="n continuations, each only the NEW strokes `[[xs], [ys]]`, in the request's own "
        "coordinates (canvas units for a canvas drawing); the request's strokes followed by these are the "
        "finished drawing."
    )
    server_ms: float = Field(description="Time spent drawing, in ms.")


class GenerateResponse(BaseModel):
    model: str = Field(description="The generator that drew the images.")
    category: str = Field(description="The category, spelled officially.")
    images: list[list[list[int]]] = Field(description="n bitmaps of 28x28, 0 (background) to 255 (ink).")
    seed: int = Field(description="The seed used (chosen at random when the request gave none).")
    frames: list[list[list[list[int]]]] = Field(
        default_factory=list, description="Denoising frames (each: n bitmaps), when asked for."
    )
    strokes: list[Strokes] = Field(
        default_factory=list,
        description="Sketch only: the n drawings as strokes `[[xs], [ys]]` in the simplified format "
        "(integers in the 0..255 box), in the order they were drawn; `images` are their renderings.",
    )
    server_ms: float = Field(description="Time spent generating, in ms.")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 413, 415, 422, 503)
}


def request_body(model: type[BaseModel], options: type[BaseModel] | None = None, upload: str = "") -> dict:
    """OpenAPI requestBody: JSON `model`, and with `options` an image upload too (field `image`, described
    by `upload`, with the fields of `options`)."""
    content: dict[str, Any] = {"application/json": {"schema": model.model_json_schema()}}
    if options is not None:
        fields = {
            "image": {"type": "string", "format": "binary", "description": upload},
            **options.model_json_schema()["properties"],
        }
        content["multipart/form-data"] = {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": fields,
                "additionalProperties": False,
            }
        }
    return {"requestBody": {"required": True, "content": content}}
