"""The dashboard's numbers read as Django's own number_format writes them, in every language."""

import pytest
from django.test import override_settings
from django.utils import formats, translation

from feedback.stats.tables import Numbers

VALUES = [0, 7, 999, 1000, 12345, 1234567, -4321, 10**12, 0.0, -0.0, 5.0, 83.36666, 99.99, 1234.5, 0.05, -2.75, 1e-7,
          3e16, float("inf")]


@pytest.mark.parametrize("language", ["zh-hans", "en", "de", "fr", "hi"])
@pytest.mark.parametrize("thousands", [False, True])
def test_each_number_is_written_as_djangos_number_format_writes_it(language, thousands):
    with translation.override(language), override_settings(USE_THOUSAND_SEPARATOR=thousands):
        for value in VALUES:
            for places in (None, 1, 2):
                for grouping in (False, True):
                    expected = str(formats.number_format(value, places, force_grouping=grouping))
                    written = Numbers.active().format(value, places, force_grouping=grouping)
                    assert written == expected, (value, places, grouping)
