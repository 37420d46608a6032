import pytest


@pytest.fixture(scope="session")
def extractor():
    """The real extractor: real lexicons, the shipped spaCy tagger, no LLM."""
    from preloved.settings import Settings
    from qu import load_extractor

    return load_extractor(Settings(llm_backend=None))
