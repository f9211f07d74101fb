//! What the crate's tests share.

/// A fresh schema on the PostgreSQL server these machines run (or
/// `SHENFEN_TEST_POSTGRES`); its URL.
pub(crate) async fn fresh_postgres(name: &str) -> String {
    use sqlx::Connection;
    let base =
        std::env::var("SHENFEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("shenfen_services_{}_{name}", std::process::id());
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&base).await.expect("PostgreSQL runs for the tests");
    for statement in [format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), format!("CREATE SCHEMA {schema}")] {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut admin).await.expect("a fresh schema");
    }
    format!("{base}?options=-c%20search_path%3D{schema}")
}
