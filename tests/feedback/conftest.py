# The citizen's clients, as the citizen pages' tests have them.
from tests.tickets.citizen.conftest import citizen, guarded  # noqa: F401
