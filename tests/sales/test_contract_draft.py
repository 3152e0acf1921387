"""F-11: the wizard's draft is a typed value, stored as the same JSON."""
from app.models import Contract, ContractDraft


def test_a_draft_round_trips_and_marks_only_validated_steps_done():
    draft = ContractDraft().with_step("supply", {"service": "gas"}, complete=True)
    draft = draft.with_step("customer", {"last_name": "Rossi"}, complete=False)
    assert draft.done == ("supply",) and draft.missing() == ["customer", "payment", "mailing"]
    again = ContractDraft.from_json(draft.to_json())
    assert again == draft and again.step("customer") == {"last_name": "Rossi"}
    assert draft.with_step("supply", {"service": "gas"}, complete=False).done == ()


def test_the_contract_reads_and_writes_its_draft_through_the_json_column():
    contract = Contract(data={"customer": {"mode": "new"}, "done": ["customer", "bogus"]})
    assert contract.draft.done == ("customer",) and contract.draft.customer == {"mode": "new"}
    contract.draft = contract.draft.with_billing(customer_code="C1")
    assert contract.data["billing"] == {"customer_code": "C1"} and contract.data["done"] == ["customer"]
    assert Contract(data=None).draft == ContractDraft()
