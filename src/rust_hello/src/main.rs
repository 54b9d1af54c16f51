//! Answers like the C `hello`: the event on stdin (any JSON), a greeting with its size and request id.
use std::io::Read;

fn main() {
    let mut event = String::new();
    std::io::stdin().read_to_string(&mut event).expect("stdin");
    let parsed: serde_json::Value = match serde_json::from_str(&event) {
        Ok(value) => value,
        Err(error) => {
            let line = serde_json::json!({"errorType": "InvalidEvent", "errorMessage": error.to_string()});
            eprintln!("{line}");
            std::process::exit(1);
        }
    };
    eprintln!("rust_hello got a {} event", if parsed.is_object() { "object" } else { "non-object" });
    let reply = serde_json::json!({
        "message": "Hello from Rust",
        "eventBytes": event.len(),
        "requestId": std::env::var("LAMBDA_REQUEST_ID").unwrap_or_default(),
    });
    println!("{reply}");
}
