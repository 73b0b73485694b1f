//! The Google Tasks API v1, answered from memory per user: task lists and tasks with
//! insert, get, list (paging and filters), update, patch, delete, clear and move, with
//! Google's resource shapes and error bodies.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::info::authenticate;
use crate::keys::{b64url, b64url_decode};
use crate::reply::{api_error, form, insufficient_scope};
use crate::store::Shared;

const SCOPE_RW: &str = "https://www.googleapis.com/auth/tasks";
const SCOPE_RO: &str = "https://www.googleapis.com/auth/tasks.readonly";
/// Longest title or notes accepted (Google's limit for notes).
const MAX_TEXT: usize = 8192;
/// Most lists or tasks one user may hold, so memory stays bounded.
const MAX_ITEMS: usize = 10_000;

#[derive(Debug, Clone)]
struct Task {
    id: String,
    etag: String,
    title: String,
    notes: Option<String>,
    status: String,
    due: Option<String>,
    completed: Option<String>,
    deleted: bool,
    hidden: bool,
    parent: Option<String>,
    updated: String,
}

#[derive(Debug, Clone)]
struct TaskList {
    id: String,
    etag: String,
    title: String,
    updated: String,
    /// In display order; a task's position is its index among its siblings.
    tasks: Vec<Task>,
}

/// One user's task lists.
#[derive(Debug, Default)]
pub(crate) struct TaskData {
    lists: Vec<TaskList>,
}

type Reply = Result<Response, Response>;

fn not_found(what: &str) -> Response {
    api_error(StatusCode::NOT_FOUND, "notFound", what)
}

fn invalid(message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, "invalid", message)
}

/// RFC 3339 with milliseconds, as Tasks writes `updated`.
fn timestamp(shared: &Shared) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    let t = UNIX_EPOCH + Duration::from_secs(shared.now()) + Duration::from_millis(millis.into());
    humantime::format_rfc3339_millis(t).to_string()
}

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z').split('+').next()?)
        .ok()
        .or_else(|| humantime::parse_rfc3339(s).ok())
}

/// Tasks keeps only the date of `due`: the time is set to midnight UTC.
fn normalise_due(s: &str) -> Option<String> {
    parse_time(s)?;
    let date = s.get(..10)?;
    Some(format!("{date}T00:00:00.000Z"))
}

impl TaskData {
    fn new_list(shared: &Shared, title: &str) -> TaskList {
        TaskList {
            id: shared.random(16),
            etag: format!("\"{}\"", shared.random(9)),
            title: title.to_owned(),
            updated: timestamp(shared),
            tasks: Vec::new(),
        }
    }

    /// The data of a user, created with Google's default list "My Tasks".
    fn ensure_default(&mut self, shared: &Shared) {
        if self.lists.is_empty() {
            self.lists.push(TaskData::new_list(shared, "My Tasks"));
        }
    }

    fn list_index(&self, id: &str) -> Option<usize> {
        if id == "@default" {
            return (!self.lists.is_empty()).then_some(0);
        }
        self.lists.iter().position(|l| l.id == id)
    }
}

fn list_json(shared: &Shared, l: &TaskList) -> Value {
    json!({
        "kind": "tasks#taskList",
        "id": l.id,
        "etag": l.etag,
        "title": l.title,
        "updated": l.updated,
        "selfLink": format!("{}/tasks/v1/users/@me/lists/{}", shared.base_url, l.id),
    })
}

fn task_json(shared: &Shared, list: &TaskList, t: &Task) -> Value {
    let position = list
        .tasks
        .iter()
        .filter(|s| s.parent == t.parent)
        .position(|s| s.id == t.id)
        .unwrap_or(0);
    let mut v = json!({
        "kind": "tasks#task",
        "id": t.id,
        "etag": t.etag,
        "title": t.title,
        "updated": t.updated,
        "selfLink": format!("{}/tasks/v1/lists/{}/tasks/{}", shared.base_url, list.id, t.id),
        "position": format!("{position:020}"),
        "status": t.status,
        "links": [],
        "webViewLink": format!("https://tasks.google.com/task/{}", t.id),
    });
    let put = |v: &mut Value, k: &str, x: &Option<String>| {
        if let Some(x) = x {
            v[k] = x.clone().into();
        }
    };
    put(&mut v, "notes", &t.notes);
    put(&mut v, "parent", &t.parent);
    put(&mut v, "due", &t.due);
    put(&mut v, "completed", &t.completed);
    if t.deleted {
        v["deleted"] = true.into();
    }
    if t.hidden {
        v["hidden"] = true.into();
    }
    v
}

/// Reads a JSON object body.
fn body_object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(api_error(
            StatusCode::BAD_REQUEST,
            "parseError",
            "Invalid JSON payload received.",
        )),
    }
}

/// A string field of a body: `Ok(None)` when absent, `Ok(Some(None))` when null.
fn text_field(m: &Map<String, Value>, k: &str) -> Result<Option<Option<String>>, Response> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() <= MAX_TEXT => Ok(Some(Some(s.clone()))),
        Some(_) => Err(invalid(&format!("Invalid value for: {k}"))),
    }
}

/// Applies the writable fields of `m` to `t` (all of them for PUT, present ones for PATCH).
fn apply_task(
    shared: &Shared,
    t: &mut Task,
    m: &Map<String, Value>,
    replace: bool,
) -> Result<(), Response> {
    let field = |k: &str| -> Result<Option<Option<String>>, Response> {
        match text_field(m, k)? {
            None if replace => Ok(Some(None)),
            x => Ok(x),
        }
    };
    if let Some(title) = field("title")? {
        t.title = title.unwrap_or_default();
    }
    if let Some(notes) = field("notes")? {
        t.notes = notes;
    }
    if let Some(due) = field("due")? {
        t.due = match due {
            None => None,
            Some(d) => Some(normalise_due(&d).ok_or_else(|| invalid("Invalid value for: due"))?),
        };
    }
    if let Some(status) = field("status")? {
        match status.as_deref().unwrap_or("needsAction") {
            "needsAction" => {
                t.status = "needsAction".into();
                t.completed = None;
            }
            "completed" => {
                if t.status != "completed" {
                    t.completed = Some(timestamp(shared));
                }
                t.status = "completed".into();
            }
            _ => return Err(invalid("Invalid value for: status")),
        }
    }
    if let Some(Some(c)) = text_field(m, "completed")? {
        if parse_time(&c).is_none() {
            return Err(invalid("Invalid value for: completed"));
        }
        if t.status == "completed" {
            t.completed = Some(c);
        }
    }
    match m.get("deleted") {
        Some(Value::Bool(b)) => t.deleted = *b,
        None | Some(Value::Null) => {}
        Some(_) => return Err(invalid("Invalid value for: deleted")),
    }
    t.updated = timestamp(shared);
    t.etag = format!("\"{}\"", shared.random(9));
    Ok(())
}

/// `maxResults` within `1..=max`, default `default`.
fn max_results(
    q: &std::collections::HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, Response> {
    match q.get("maxResults") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(invalid("Invalid value for: maxResults")),
        },
    }
}

fn page_start(q: &std::collections::HashMap<String, String>) -> Result<usize, Response> {
    match q.get("pageToken").filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) => b64url_decode(t)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| invalid("Invalid page token.")),
    }
}

fn page_token(next: usize) -> String {
    b64url(format!("offset:{next}").as_bytes())
}

fn bool_param(
    q: &std::collections::HashMap<String, String>,
    k: &str,
    default: bool,
) -> Result<bool, Response> {
    match q.get(k).map(String::as_str) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(invalid(&format!("Invalid value for: {k}"))),
    }
}

fn time_param(
    q: &std::collections::HashMap<String, String>,
    k: &str,
) -> Result<Option<SystemTime>, Response> {
    match q.get(k) {
        None => Ok(None),
        Some(v) => parse_time(v)
            .map(Some)
            .ok_or_else(|| invalid(&format!("Invalid value for: {k}"))),
    }
}

/// Authenticates, checks the scope, and runs `f` on the caller's task data.
fn with_data(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    write: bool,
    f: impl FnOnce(&mut TaskData) -> Reply,
) -> Response {
    let (at, grant) = match authenticate(shared, headers, query) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let allowed = at
        .scopes
        .iter()
        .any(|s| s == SCOPE_RW || (!write && s == SCOPE_RO));
    if !allowed {
        return insufficient_scope();
    }
    let (_, email) = shared.identity(&grant);
    let mut store = shared.store();
    let data = store.tasks.entry(email).or_default();
    data.ensure_default(shared);
    match f(data) {
        Ok(r) | Err(r) => r,
    }
}

fn ok(v: Value) -> Reply {
    Ok(axum::Json(v).into_response())
}

fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `/tasks/v1/users/@me/lists`: list (GET) and insert (POST).
pub(crate) async fn lists(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let q = form(raw.as_deref().unwrap_or("").as_bytes());
    let write = method != Method::GET;
    with_data(&shared, &headers, raw.as_deref(), write, |data| {
        if method == Method::GET {
            let max = max_results(&q, 1000, 1000)?;
            let start = page_start(&q)?;
            let items: Vec<Value> = data
                .lists
                .iter()
                .skip(start)
                .take(max)
                .map(|l| list_json(&shared, l))
                .collect();
            let mut out = json!({
                "kind": "tasks#taskLists",
                "etag": format!("\"{}\"", shared.random(9)),
                "items": items,
            });
            if start + max < data.lists.len() {
                out["nextPageToken"] = page_token(start + max).into();
            }
            return ok(out);
        }
        let m = body_object(&body)?;
        let title = text_field(&m, "title")?.flatten().unwrap_or_default();
        if data.lists.len() >= MAX_ITEMS {
            return Err(api_error(
                StatusCode::FORBIDDEN,
                "quotaExceeded",
                "Quota Exceeded",
            ));
        }
        let list = TaskData::new_list(&shared, &title);
        let v = list_json(&shared, &list);
        data.lists.push(list);
        ok(v)
    })
}

/// `/tasks/v1/users/@me/lists/{tasklist}`: get, update, patch, delete.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let write = method != Method::GET;
    with_data(&shared, &headers, raw.as_deref(), write, |data| {
        let Some(i) = data.list_index(&id) else {
            return Err(not_found("Task list not found."));
        };
        match method {
            Method::GET => ok(list_json(&shared, &data.lists[i])),
            Method::DELETE => {
                data.lists.remove(i);
                no_content()
            }
            Method::PUT | Method::PATCH => {
                let m = body_object(&body)?;
                let title = text_field(&m, "title")?;
                let l = &mut data.lists[i];
                match title {
                    Some(t) => l.title = t.unwrap_or_default(),
                    None if method == Method::PUT => l.title.clear(),
                    None => {}
                }
                l.updated = timestamp(&shared);
                l.etag = format!("\"{}\"", shared.random(9));
                ok(list_json(&shared, l))
            }
            _ => Err(api_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "httpMethodNotAllowed",
                "Method not allowed.",
            )),
        }
    })
}

/// Where among `tasks` a task under `parent` goes after `previous` (first when `None`).
fn insertion_index(
    tasks: &[Task],
    parent: &Option<String>,
    previous: Option<&str>,
) -> Result<usize, Response> {
    match previous.filter(|p| !p.is_empty()) {
        None => Ok(match tasks.iter().position(|t| &t.parent == parent) {
            Some(first_sibling) => first_sibling,
            // The first child goes right under its parent.
            None => parent
                .as_ref()
                .and_then(|p| tasks.iter().position(|t| &t.id == p))
                .map_or(0, |i| i + 1),
        }),
        Some(prev) => {
            let i = tasks
                .iter()
                .position(|t| t.id == prev && &t.parent == parent)
                .ok_or_else(|| invalid("Invalid value for: previous"))?;
            // After the previous sibling and all of its descendants.
            let mut end = i + 1;
            let mut family = vec![prev.to_owned()];
            while end < tasks.len() {
                match &tasks[end].parent {
                    Some(p) if family.contains(p) => {
                        family.push(tasks[end].id.clone());
                        end += 1;
                    }
                    _ => break,
                }
            }
            Ok(end)
        }
    }
}

/// The ids of `id` and all its descendants.
fn family(tasks: &[Task], id: &str) -> Vec<String> {
    let mut out = vec![id.to_owned()];
    let mut grew = true;
    while grew {
        grew = false;
        for t in tasks {
            if t.parent.as_ref().is_some_and(|p| out.contains(p)) && !out.contains(&t.id) {
                out.push(t.id.clone());
                grew = true;
            }
        }
    }
    out
}

/// `/tasks/v1/lists/{tasklist}/tasks`: list (GET) and insert (POST).
pub(crate) async fn tasks(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(list_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let q = form(raw.as_deref().unwrap_or("").as_bytes());
    let write = method != Method::GET;
    with_data(&shared, &headers, raw.as_deref(), write, |data| {
        let Some(li) = data.list_index(&list_id) else {
            return Err(not_found("Task list not found."));
        };
        let list = &mut data.lists[li];
        if method == Method::GET {
            let max = max_results(&q, 20, 100)?;
            let start = page_start(&q)?;
            let show_completed = bool_param(&q, "showCompleted", true)?;
            let show_deleted = bool_param(&q, "showDeleted", false)?;
            let show_hidden = bool_param(&q, "showHidden", false)?;
            bool_param(&q, "showAssigned", false)?;
            let completed_min = time_param(&q, "completedMin")?;
            let completed_max = time_param(&q, "completedMax")?;
            let due_min = time_param(&q, "dueMin")?;
            let due_max = time_param(&q, "dueMax")?;
            let updated_min = time_param(&q, "updatedMin")?;
            let at = |s: &Option<String>| s.as_deref().and_then(parse_time);
            let matching: Vec<&Task> = list
                .tasks
                .iter()
                .filter(|t| show_deleted || !t.deleted)
                .filter(|t| show_hidden || !t.hidden)
                .filter(|t| show_completed || t.status != "completed")
                .filter(|t| completed_min.is_none_or(|m| at(&t.completed).is_some_and(|c| c >= m)))
                .filter(|t| completed_max.is_none_or(|m| at(&t.completed).is_some_and(|c| c <= m)))
                .filter(|t| due_min.is_none_or(|m| at(&t.due).is_some_and(|d| d >= m)))
                .filter(|t| due_max.is_none_or(|m| at(&t.due).is_some_and(|d| d <= m)))
                .filter(|t| {
                    updated_min.is_none_or(|m| parse_time(&t.updated).is_some_and(|u| u >= m))
                })
                .collect();
            let items: Vec<Value> = matching
                .iter()
                .skip(start)
                .take(max)
                .map(|t| task_json(&shared, list, t))
                .collect();
            let mut out = json!({
                "kind": "tasks#tasks",
                "etag": list.etag,
                "items": items,
            });
            if start + max < matching.len() {
                out["nextPageToken"] = page_token(start + max).into();
            }
            return ok(out);
        }
        if list.tasks.len() >= MAX_ITEMS {
            return Err(api_error(
                StatusCode::FORBIDDEN,
                "quotaExceeded",
                "Quota Exceeded",
            ));
        }
        let m = body_object(&body)?;
        let parent = q.get("parent").filter(|p| !p.is_empty()).cloned();
        if let Some(p) = &parent
            && !list.tasks.iter().any(|t| &t.id == p)
        {
            return Err(invalid("Invalid value for: parent"));
        }
        let mut task = Task {
            id: shared.random(16),
            etag: String::new(),
            title: String::new(),
            notes: None,
            status: "needsAction".into(),
            due: None,
            completed: None,
            deleted: false,
            hidden: false,
            parent: parent.clone(),
            updated: String::new(),
        };
        apply_task(&shared, &mut task, &m, false)?;
        let at = insertion_index(&list.tasks, &parent, q.get("previous").map(String::as_str))?;
        list.tasks.insert(at, task);
        ok(task_json(&shared, list, &list.tasks[at]))
    })
}

/// `/tasks/v1/lists/{tasklist}/tasks/{task}`: get, update, patch, delete.
pub(crate) async fn task(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path((list_id, task_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let write = method != Method::GET;
    with_data(&shared, &headers, raw.as_deref(), write, |data| {
        let Some(li) = data.list_index(&list_id) else {
            return Err(not_found("Task list not found."));
        };
        let list = &mut data.lists[li];
        let Some(ti) = list.tasks.iter().position(|t| t.id == task_id) else {
            return Err(not_found("Task not found."));
        };
        match method {
            Method::GET => ok(task_json(&shared, list, &list.tasks[ti])),
            Method::DELETE => {
                for id in family(&list.tasks, &task_id) {
                    if let Some(t) = list.tasks.iter_mut().find(|t| t.id == id) {
                        t.deleted = true;
                        t.updated = timestamp(&shared);
                    }
                }
                no_content()
            }
            Method::PUT | Method::PATCH => {
                let m = body_object(&body)?;
                let mut t = list.tasks[ti].clone();
                apply_task(&shared, &mut t, &m, method == Method::PUT)?;
                list.tasks[ti] = t;
                ok(task_json(&shared, list, &list.tasks[ti]))
            }
            _ => Err(api_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "httpMethodNotAllowed",
                "Method not allowed.",
            )),
        }
    })
}

/// `POST /tasks/v1/lists/{tasklist}/clear`: hides completed tasks.
pub(crate) async fn clear(
    State(shared): State<Arc<Shared>>,
    Path(list_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    with_data(&shared, &headers, raw.as_deref(), true, |data| {
        let Some(li) = data.list_index(&list_id) else {
            return Err(not_found("Task list not found."));
        };
        let now = timestamp(&shared);
        for t in data.lists[li]
            .tasks
            .iter_mut()
            .filter(|t| t.status == "completed")
        {
            t.hidden = true;
            t.updated = now.clone();
        }
        no_content()
    })
}

/// `POST /tasks/v1/lists/{tasklist}/tasks/{task}/move`: new parent, new previous sibling,
/// or another list (with its subtasks).
pub(crate) async fn move_task(
    State(shared): State<Arc<Shared>>,
    Path((list_id, task_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = form(raw.as_deref().unwrap_or("").as_bytes());
    with_data(&shared, &headers, raw.as_deref(), true, |data| {
        let Some(from) = data.list_index(&list_id) else {
            return Err(not_found("Task list not found."));
        };
        let to = match q.get("destinationTasklist").filter(|d| !d.is_empty()) {
            None => from,
            Some(d) => data
                .list_index(d)
                .ok_or_else(|| not_found("Task list not found."))?,
        };
        if !data.lists[from].tasks.iter().any(|t| t.id == task_id) {
            return Err(not_found("Task not found."));
        }
        let parent = q.get("parent").filter(|p| !p.is_empty()).cloned();
        let moving = family(&data.lists[from].tasks, &task_id);
        if parent.as_ref().is_some_and(|p| moving.contains(p)) {
            return Err(invalid("Invalid value for: parent"));
        }
        if let Some(p) = &parent
            && !data.lists[to].tasks.iter().any(|t| &t.id == p)
        {
            return Err(invalid("Invalid value for: parent"));
        }
        if q.get("previous").is_some_and(|p| moving.contains(p)) {
            return Err(invalid("Invalid value for: previous"));
        }
        let (mut moved, kept): (Vec<Task>, Vec<Task>) = data.lists[from]
            .tasks
            .drain(..)
            .partition(|t| moving.contains(&t.id));
        data.lists[from].tasks = kept;
        let now = timestamp(&shared);
        if let Some(head) = moved.iter_mut().find(|t| t.id == task_id) {
            head.parent = parent.clone();
            head.updated = now;
            head.etag = format!("\"{}\"", shared.random(9));
        }
        let dest = &mut data.lists[to].tasks;
        let at = match insertion_index(dest, &parent, q.get("previous").map(String::as_str)) {
            Ok(at) => at,
            Err(e) => {
                // Put the tasks back where they were before refusing.
                data.lists[from].tasks.extend(moved);
                return Err(e);
            }
        };
        let head_at = at + moved.iter().position(|t| t.id == task_id).unwrap_or(0);
        for (k, t) in moved.into_iter().enumerate() {
            dest.insert(at + k, t);
        }
        let list = &data.lists[to];
        ok(task_json(&shared, list, &list.tasks[head_at]))
    })
}
