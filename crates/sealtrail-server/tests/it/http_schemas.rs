//! `/v1/schemas` over real HTTP: registering versions, listing them, and every ingest route
//! (native single and batch, Retraced) refusing events that break their action's schema.

use crate::common::{expect_error, TestServer};
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};

fn paid(amount: Value) -> Value {
    json!({"action": "invoice.paid", "actor": {"id": "u1"},
        "targets": [{"type": "invoice", "id": "inv_1"}], "properties": {"amount": amount}})
}

#[tokio::test]
async fn registered_schemas_are_listed_and_enforced_on_every_ingest_route() {
    let s = TestServer::start().await;
    let register = |key: String, action: &'static str, schema: Value| {
        let s = &s;
        async move {
            s.client
                .post(format!("{}/v1/schemas/{action}", s.url))
                .bearer_auth(key)
                .json(&schema)
                .send()
                .await
                .unwrap()
        }
    };
    let amount_number = json!({"properties": {"properties": {
        "required": ["amount"], "properties": {"amount": {"type": "number"}}}}});
    let r = register(s.admin_key.clone(), "invoice.paid", amount_number.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        (created["action"].as_str(), created["version"].as_u64()),
        (Some("invoice.paid"), Some(1))
    );
    assert_eq!(created["schema"], amount_number);

    // Refusals: a reader cannot register; a schema must compile and stay inside itself; the
    // action must be one events can have.
    let reader = s.key(&[Scope::Read, Scope::Ingest]).await;
    expect_error(
        register(reader.clone(), "invoice.paid", json!({})).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    for bad in [
        json!({"type": 7}),
        json!({"$ref": "https://example.com/s.json"}),
        json!("x"),
    ] {
        expect_error(
            register(s.admin_key.clone(), "invoice.paid", bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    expect_error(
        register(s.admin_key.clone(), "not%20an%20action", json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let listed = s.get_json(&reader, "/v1/schemas").await;
    assert_eq!(listed["schemas"].as_array().unwrap().len(), 1);
    let one = s.get_json(&reader, "/v1/schemas/invoice.paid").await;
    assert_eq!(one["versions"][0]["version"], 1);
    assert_eq!(
        s.get(&reader, "/v1/schemas/user.login").await.status(),
        StatusCode::NOT_FOUND
    );

    // Native, one event: 422 naming the field and the rule.
    let body = expect_error(
        s.post_events(&reader, &paid(json!("lots"))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["field"], "properties.amount");
    assert_eq!(body["rule"], "schema");
    assert_eq!(
        s.post_events(&reader, &paid(json!(12))).await.status(),
        StatusCode::CREATED
    );

    // Native batch: the misfit is rejected by index, the rest stored.
    let batch = json!({"events": [paid(json!(1)), paid(json!({"n": 1})), paid(json!(3))]});
    let r = s.post_events(&reader, &batch).await;
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(v["results"][1]["status"], "rejected");
    assert_eq!(v["results"][1]["error"]["field"], "properties.amount");

    // Retraced: all or nothing, in Retraced's shape.
    let retraced = |amount: &str| {
        json!({"action": "invoice.paid", "crud": "u", "actor": {"id": "u1"},
        "target": {"id": "inv_1", "type": "invoice"}, "fields": {"amount": amount}})
    };
    let r = s
        .client
        .post(format!("{}/publisher/v1/project/default/event/bulk", s.url))
        .header("Authorization", format!("token={reader}"))
        .json(&json!({"events": [retraced("1")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "Retraced fields are strings: amount is not a number"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["invalid"][0]["violations"][0]["field"], "fields.amount");
    assert_eq!(v["invalid"][0]["violations"][0]["violation"], "schema");

    // A second version takes over; the first stays listed.
    let r = register(
        s.admin_key.clone(),
        "invoice.paid",
        json!({"properties": {"properties": {
        "properties": {"amount": {"type": ["number", "string"]}}}}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(
        s.post_events(&reader, &paid(json!("twelve")))
            .await
            .status(),
        StatusCode::CREATED
    );
    let one = s.get_json(&reader, "/v1/schemas/invoice.paid").await;
    assert_eq!(one["versions"].as_array().unwrap().len(), 2);
    let audited = s
        .get_json(&s.admin_key, "/v1/events?action=action_schema.registered")
        .await;
    assert_eq!(audited["total"], 2);
    let stored = s
        .get_json(&s.admin_key, "/v1/events?action=invoice.paid")
        .await;
    assert_eq!(stored["total"], 4);
}
