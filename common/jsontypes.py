"""Names for JSON-shaped values, so signatures say what they carry instead of ``Any``.

``object`` (not ``Any``) keeps the checker on: a value read out of a ``JsonObject``
must be narrowed (``isinstance``, a pydantic model, a ``TypedDict``) before it is used
as a number or a string, while building one for a reply needs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

# A JSON object as built for a reply or parsed from a message, before validation.
JsonObject = dict[str, object]
# A JSON object a function only reads (a ``dict[str, int]`` is one too).
JsonMapping = Mapping[str, object]
# A JSON array of such values.
JsonList = list[object]
