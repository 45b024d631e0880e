"""Real examples for Swagger's "Try it out" (written into meta.json): one MNIST and one Fashion-MNIST test image.

Generated once from the test files (row 0 of each); the PNGs are the same images inverted (dark on
white, as a photo or a drawing would be) and upscaled to 56×56, to show the normalization at work.
"""

# ruff: noqa: E501 — one image row per line reads better than wrapped numbers

# fmt: off
DIGIT_LABEL = 7
DIGIT_PIXELS = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 84, 185, 159, 151, 60, 36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 222, 254, 254, 254, 254, 241, 198, 198, 198, 198, 198, 198, 198, 198, 170, 52, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 67, 114, 72, 114, 163, 227, 254, 225, 254, 254, 254, 250, 229, 254, 254, 140, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 66, 14, 67, 67, 67, 59, 21, 236, 254, 106, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 83, 253, 209, 18, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 22, 233, 255, 83, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 129, 254, 238, 44, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 59, 249, 254, 62, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 133, 254, 187, 5, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 205, 248, 58, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 126, 254, 182, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 75, 251, 240, 57, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 19, 221, 254, 166, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 203, 254, 219, 35, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 38, 254, 254, 77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 31, 224, 254, 115, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 133, 254, 254, 52, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 61, 242, 254, 254, 52, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 121, 254, 254, 219, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 121, 254, 207, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]
DIGIT_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAADgAAAA4CAAAAACN7WTCAAACwUlEQVR42u3WTU8TURQG4PfcmXZm2g6lLWWglI9msBr8oICaCAGM"
    "xLhy697/5B9w4T9wIbDRRUEEC8SQgDRA+Ci0pXRKoS10puMGI1GKve5MOKu7eeYk58597yUb/1YMN/AG/h9QvLSunZWKpsjg9EiM"
    "EQesbK8tGj4ZrQ/aZbfEAYtf44l8s0yte2HFpymXDpxNxBRVEelqeDQ5nasyxqS4Rw50uC375wBsGw4l8khvdlwNSVD8cND52WEK"
    "gt/FbKsGAEQMtuiKOpxKHRh4qR9QO8tm0vu7RhYqihcfdJEJVvZ6OjxXQ3UonKZ2IZPNprb2skI7HZRAIOYKnq4aODwqWnWG42zz"
    "6+Sk7up5pZDeZr20YQhkM8Gnf3/zBaLf76gDmSQBgBsAKinqIv1YIJsxNWgqIH+kS6oDL5cUIgFaCwEga3ctA6kr1uduAJIM4KJD"
    "bmE259T7dS8agJdr5/2k4RsfD4IPWsba0j48t6Mq5+koLS3kAKeqClwdbTM1myg4tcFOlXFB82jlY6LY9ur5PTcfPN9fTxpiePhx"
    "M/ElQGVrs4yA3qkSZ3RUNjdL8p0BTeTNnMrWxknL+Jjv2gT4s2rHyWTaEY5FXZwpV1r6tHoSvBVpYlwd7erOzOd9uS+miXy5amaW"
    "phLljrERlTOQi8vxlYIcifXKnDD7YTIvdkV7vMJfcvW3jTiIzyWhxQY1EVww/W5qHUL3xGgT+ODh7HxZ6B0aiIicsJAtwzvxolsE"
    "FyxszKWF5vsjMT+4oJV8O51uGnk6pAlcsJpZmVlF8O7DsMR3I5e/LWYBJRwSG7off/2jqflFAxA8Hsb1BjBzK/HlU6BmWTZXx/OD"
    "5IYBQGScr47K7k4ZADyySFwdLSN/Cvj14ZDE+IZjV09Bfa9HW918UAr1n+QDT571XJcqdMXczGLx2BSbNIkXNlQ/AEv68BVY04go"
    "AAAAAElFTkSuQmCC"
)
FASHION_LABEL = 9
FASHION_PIXELS = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 7, 0, 37, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 27, 84, 11, 0, 0, 0, 0, 0, 0, 119, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 88, 143, 110, 0, 0, 0, 0, 22, 93, 106, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 53, 129, 120, 147, 175, 157, 166, 135, 154, 168, 140, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 11, 137, 130, 128, 160, 176, 159, 167, 178, 149, 151, 144, 0, 0,
    0, 0, 0, 0, 0, 0, 1, 0, 2, 1, 0, 3, 0, 0, 115, 114, 106, 137, 168, 153, 156, 165, 167, 143, 157, 158, 11, 0,
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 89, 139, 90, 94, 153, 149, 131, 151, 169, 172, 143, 159, 169, 48, 0,
    0, 0, 0, 0, 0, 0, 2, 4, 1, 0, 0, 0, 98, 136, 110, 109, 110, 162, 135, 144, 149, 159, 167, 144, 158, 169, 119, 0,
    0, 0, 2, 2, 1, 2, 0, 0, 0, 0, 26, 108, 117, 99, 111, 117, 136, 156, 134, 154, 154, 156, 160, 141, 147, 156, 178, 0,
    3, 0, 0, 0, 0, 0, 0, 21, 53, 92, 117, 111, 103, 115, 129, 134, 143, 154, 165, 170, 154, 151, 154, 143, 138, 150, 165, 43,
    0, 0, 23, 54, 65, 76, 85, 118, 128, 123, 111, 113, 118, 127, 125, 139, 133, 136, 160, 140, 155, 161, 144, 155, 172, 161, 189, 62,
    0, 68, 94, 90, 111, 114, 111, 114, 115, 127, 135, 136, 143, 126, 127, 151, 154, 143, 148, 125, 162, 162, 144, 138, 153, 162, 196, 58,
    70, 169, 129, 104, 98, 100, 94, 97, 98, 102, 108, 106, 119, 120, 129, 149, 156, 167, 190, 190, 196, 198, 198, 187, 197, 189, 184, 36,
    16, 126, 171, 188, 188, 184, 171, 153, 135, 120, 126, 127, 146, 185, 195, 209, 208, 255, 209, 177, 245, 252, 251, 251, 247, 220, 206, 49,
    0, 0, 0, 12, 67, 106, 164, 185, 199, 210, 211, 210, 208, 190, 150, 82, 8, 0, 0, 0, 178, 208, 188, 175, 162, 158, 151, 11,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]
FASHION_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAADgAAAA4CAAAAACN7WTCAAAD4ElEQVR42u2Wy29cNRTGv3Ns38ckadIJqVokVAqIFRISK/j/F2zY"
    "0qImLQ1pp82jM3Pv3Jnr5zkskrQSVZuKBRJSLEve+OfP5/HJJsW/G4xb8Bb8f4D287Yp6HrVDEufq6giogAkF+TlMn+GomoKNDF0"
    "7T5CfKWN+ySoUCL1b0/c97usBADMQHgiD3ZuVsyLl0+NeXj3OqQ0vrlw5aarMpBmz47Tqv+lvrrF4vlL7NobY9S0nL3ZhBOa7DMJ"
    "Wx1eH13gi0+XQ4Uoz09mw1YzHh6ZCUc3Nf1ykSfTm7JKGI+fzdMWry7Oy471dtfFGI14/RQoxITh8ZGaEkOxtjaUl257W+SyNPZj"
    "pQChdMdnm+1aYpTaOFaJZOqcc/4gqwqCgEAqYGD87QgHrQwxyMSykGmcoxJTiB9rclUQ6XBy+NpN79QlotratlAlw6Ql+nXW94oK"
    "Al2epAJixMM/zspkF8HH2u0QkmS1CkjeLLpdy/+QUgAgZu2PD//KlSGVmKvWMjEzFADUvz5N7xUJgApARERA+P3w5Wa7iT37oJVL"
    "RY1DYqiSGf/ce9B+kFUiQOP67MXM26YqCZvClkMCGVVDZFxJJ/s/XSoKAIKCzVVnnz6ZdebASCnJD3CMkqHEbIgd2L86SLBKwLsJ"
    "lJxT7GfHb03VYBMljgGI8MkSGTXEjjiGYYhWLmO6dtGwWiyW/RBbRzH4qDkJ5S5HaitSZcAZuG27mFsQQXMpqqoaV323WPZeascS"
    "fMpFYKGbQpZUYVlSlqJIXW+ZgLjqNyXnJOv5yieFY5KYQyaTtULhZCY25cIt5ehRhVW/3liCH/tutQkxZRkXPsNYGCmlKBilgNk6"
    "vkN9KcxWWbRk71O2yLPTpUdYexUW06ik5IGSuHGQFGAr1G679ELM1tU26VgKG9svH8+yaTRmBZtGUUJSYSUyRqAiAo3J5GGkLJXT"
    "lEqCqxv7dPbr/N6U661WyEJEpclZWYI4ZLZWJIQus6YCIluTL1zs1s4dK6F/C9/WltQ4Q0zEjpQlJ5/SuA4SBp/IyphVlSpK1BgR"
    "Yvuteb6ZzzKMpbppm7apG8pCedNdDNGvA3WvysH+NJ12lw7SerdCP4x2Gn9oLroxhFzGwVR1VVVUFDkM88A02dsJU/3y4O5iOc9k"
    "GGxq5+AqZ2n/5x9jDt3svDufLfuccxEFqZBp79z76uvvdiPqyr5Yx5G2GufqypI8uH/PotoHgDA7785OFmMIMRYCgVy7M73/8NE3"
    "DgCwf7g30qR1rrJQeXRQX78mGlKOIYmIXJmZjHFV07ZXTXy2EhhmIgK03XsH3n4ebsH/CPwbQmaIhtkJM2sAAAAASUVORK5CYII="
)
# fmt: on
