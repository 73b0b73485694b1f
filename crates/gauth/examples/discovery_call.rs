//! Calling a Google API through its discovery document (async flavour), as
//! google-api-python-client's `build` does: create a Google Tasks list, add tasks, read
//! them back a page at a time into typed structs, then delete the list again.
//!
//! ```text
//! gauth login --client-secrets client_secrets.json \
//!     --scope https://www.googleapis.com/auth/tasks --out tasks_user.json
//! cargo run -p gauth --example discovery_call -- tasks_user.json
//! ```
//!
//! - the argument: an authorized-user file (google-auth's `Credentials.to_json()` format, as
//!   `gauth login` writes it) whose grant includes the Tasks scope. Refreshed tokens are
//!   written back to it.
//! - `GAUTH_DISCOVERY_URL` (optional): where discovery documents come from, with `{api}`
//!   and `{apiVersion}` placeholders; Google's discovery service by default.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gauth::discovery::BuildOptions;
use gauth::{CredentialStore, Credentials, EndpointPolicy, FileStore};
use serde::Deserialize;
use serde_json::json;

/// One task, as much of it as this program reads (serde ignores the other fields).
#[derive(Debug, Deserialize)]
pub struct Task {
    /// The task's id.
    pub id: String,
    /// Its title.
    #[serde(default)]
    pub title: String,
    /// `needsAction` or `completed`.
    pub status: String,
}

/// One page of `tasks.list`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskPage {
    /// Absent on an empty page.
    #[serde(default)]
    items: Vec<Task>,
}

/// What a run saw.
#[derive(Debug)]
pub struct Outcome {
    /// The id of the list it created (and deleted at the end).
    pub list_id: String,
    /// The tasks, page by page, as `tasks.list` returned them.
    pub pages: Vec<Vec<Task>>,
}

// The tests include this file as a module and call `run` directly, so `main` and
// `cli` go unused there.
#[cfg_attr(test, allow(dead_code))]
#[tokio::main]
async fn main() -> ExitCode {
    match cli().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("discovery_call: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the arguments and runs the program.
#[cfg_attr(test, allow(dead_code))]
async fn cli() -> Result<(), Box<dyn Error>> {
    let credentials_file = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: discovery_call AUTHORIZED_USER_FILE")?;
    let mut discovery = BuildOptions::default();
    if let Ok(url) = std::env::var("GAUTH_DISCOVERY_URL") {
        discovery = discovery.discovery_url(url);
    }

    let titles = ["Buy milk", "Read the gauth guide", "Renew the passport"];
    let outcome = run(&credentials_file, &discovery, &titles, 2).await?;
    for (n, page) in outcome.pages.iter().enumerate() {
        println!("page {}:", n + 1);
        for task in page {
            println!("  [{}] {} ({})", task.status, task.title, task.id);
        }
    }
    println!("Deleted the list {} again", outcome.list_id);
    Ok(())
}

/// Creates a task list holding `titles`, lists it `page_size` tasks per page, and deletes
/// it, with the user credentials in `credentials_file`.
pub async fn run(
    credentials_file: &Path,
    discovery: &BuildOptions,
    titles: &[&str],
    page_size: u32,
) -> Result<Outcome, Box<dyn Error>> {
    let store = FileStore::new(credentials_file);
    let user = store
        .load(&EndpointPolicy::default())?
        .ok_or_else(|| format!("{} does not exist", credentials_file.display()))?;
    // With the store on the handle, every refresh is written back to the file, under its
    // lock.
    let creds = Credentials::builder(user).store(store).build();

    // Fetches the Tasks v1 discovery document (cached on disk for a day) and checks every
    // call against it: a misspelt method or parameter fails before any request is sent.
    let tasks = gauth::discovery::build_with("tasks", "v1", Some(creds), discovery).await?;

    let list = tasks
        .method("tasklists.insert")?
        .body(json!({ "title": "gauth discovery example" }))
        .execute()
        .await?;
    let list_id = list["id"]
        .as_str()
        .ok_or("tasklists.insert returned no id")?
        .to_owned();

    // Whatever happens next, try to leave the user's account as it was.
    let result = fill_and_list(&tasks, &list_id, titles, page_size).await;
    let deleted = tasks
        .method("tasklists.delete")?
        .param("tasklist", list_id.as_str())
        .execute_response()
        .await;
    let pages = result?;
    deleted?;
    Ok(Outcome { list_id, pages })
}

async fn fill_and_list(
    tasks: &gauth::discovery::Service,
    list_id: &str,
    titles: &[&str],
    page_size: u32,
) -> Result<Vec<Vec<Task>>, Box<dyn Error>> {
    let mut previous: Option<String> = None;
    for title in titles {
        let mut insert = tasks
            .method("tasks.insert")?
            .param("tasklist", list_id)
            .body(json!({ "title": title }));
        // `previous` places each task after the one before, so the list keeps this order
        // (without it Google puts every new task at the top).
        if let Some(id) = &previous {
            insert = insert.param("previous", id);
        }
        // The answer deserialized straight into the struct.
        let task: Task = insert.execute_as().await?;
        eprintln!("added {:?}", task.title);
        previous = Some(task.id);
    }

    // `pages()` follows `nextPageToken` until the last page.
    let mut pager = tasks
        .method("tasks.list")?
        .param("tasklist", list_id)
        .param("maxResults", page_size)
        .pages()?;
    let mut pages = Vec::new();
    while let Some(page) = pager.next_page().await {
        let page: TaskPage = serde_json::from_value(page?)?;
        pages.push(page.items);
    }
    Ok(pages)
}
