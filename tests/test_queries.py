"""The store's searches (suite/tracking/queries.py) against a real SQLite store: a value is matched
exactly, whatever quote characters it holds."""
import pytest

from suite.record import Tag
from suite.tracking import queries

# Each pair differs only by a quote character.
VALUES = ["it's", "its", 'say "hi"', "say hi", "''", ""]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite store holding one RUNNING run per value, tagged with it as config hash and owner host."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db")
    experiment_id = client.create_experiment("quotes")
    runs = {value: client.create_run(experiment_id, tags={Tag.CONFIG_HASH: value, Tag.OWNER_HOST: value}).info.run_id
            for value in VALUES}
    return client, experiment_id, runs


@pytest.mark.parametrize("value", VALUES)
def test_a_value_with_quotes_matches_its_own_run_only(store, value):
    client, experiment_id, runs = store
    assert [r.info.run_id for r in queries.twin_runs(client, experiment_id, {Tag.CONFIG_HASH: value})] == [runs[value]]
    assert [r.info.run_id for r in queries.running_runs_of_host(client, experiment_id, value)] == [runs[value]]


@pytest.mark.parametrize("value", ["it's \"x\"", "ends in \\"])
def test_a_value_the_filter_grammar_cannot_spell_is_refused_not_matched_loosely(store, value):
    client, experiment_id, _ = store
    with pytest.raises(ValueError, match="cannot be written in an MLflow search filter"):
        queries.twin_runs(client, experiment_id, {Tag.CONFIG_HASH: value})
