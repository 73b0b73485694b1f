"""google-api-python-client, unmodified, against the gauth emulator: build() from the
emulator's discovery documents, oauth2 v2 userinfo and tokeninfo, and the Tasks API's CRUD,
paging and errors.

usage: emulator_discovery.py BASE_URL KEY_FILE
"""
import json
import sys

from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from google.oauth2 import service_account

base, key_file = sys.argv[1], sys.argv[2]
info = json.load(open(key_file))
creds = service_account.Credentials.from_service_account_file(
    key_file,
    scopes=[
        "https://www.googleapis.com/auth/tasks",
        "https://www.googleapis.com/auth/userinfo.email",
    ],
)
url = base + "/discovery/v1/apis/{api}/{apiVersion}/rest"

oauth2 = build("oauth2", "v2", credentials=creds, discoveryServiceUrl=url, static_discovery=False)
me = oauth2.userinfo().get().execute()
assert me["email"] == info["client_email"], me
creds.refresh(__import__("google.auth.transport.requests").auth.transport.requests.Request())
ti = oauth2.tokeninfo(access_token=creds.token).execute()
assert ti["email"] == info["client_email"] and ti["expires_in"] > 0, ti

tasks = build("tasks", "v1", credentials=creds, discoveryServiceUrl=url, static_discovery=False)

# Task lists: the default list exists; insert, get, patch, update, list with paging.
first = tasks.tasklists().list().execute()
assert first["kind"] == "tasks#taskLists" and first["items"][0]["title"] == "My Tasks", first
made = [tasks.tasklists().insert(body={"title": "list %d" % i}).execute() for i in range(5)]
assert made[0]["kind"] == "tasks#taskList" and made[0]["title"] == "list 0"
got = tasks.tasklists().get(tasklist=made[1]["id"]).execute()
assert got["id"] == made[1]["id"], got
patched = tasks.tasklists().patch(tasklist=made[1]["id"], body={"title": "renamed"}).execute()
assert patched["title"] == "renamed" and patched["etag"] != got["etag"], patched
updated = tasks.tasklists().update(tasklist=made[2]["id"], body={"title": "replaced"}).execute()
assert updated["title"] == "replaced"
seen = []
req = tasks.tasklists().list(maxResults=2)
pages = 0
while req is not None:
    page = req.execute()
    pages += 1
    seen += [l["id"] for l in page.get("items", [])]
    req = tasks.tasklists().list_next(req, page)
assert pages == 3 and len(seen) == 6 and len(set(seen)) == 6, (pages, seen)
tasks.tasklists().delete(tasklist=made[4]["id"]).execute()
try:
    tasks.tasklists().get(tasklist=made[4]["id"]).execute()
    raise SystemExit("a deleted list was found")
except HttpError as e:
    assert e.resp.status == 404, e
    body = json.loads(e.content)
    assert body["error"]["code"] == 404 and body["error"]["status"] == "NOT_FOUND", body
    assert body["error"]["errors"][0]["reason"] == "notFound", body

# Tasks: insert at the top, after a sibling, as a subtask; list with paging; update, patch,
# complete, clear, move, delete.
lid = made[0]["id"]
a = tasks.tasks().insert(tasklist=lid, body={"title": "a", "notes": "n"}).execute()
b = tasks.tasks().insert(tasklist=lid, body={"title": "b"}, previous=a["id"]).execute()
c = tasks.tasks().insert(tasklist=lid, body={"title": "c"}).execute()
child = tasks.tasks().insert(tasklist=lid, body={"title": "child"}, parent=a["id"]).execute()
assert a["kind"] == "tasks#task" and a["status"] == "needsAction" and a["notes"] == "n", a
assert child["parent"] == a["id"], child
order = [t["title"] for t in tasks.tasks().list(tasklist=lid).execute()["items"]]
assert order == ["c", "a", "child", "b"], order
titles = []
req = tasks.tasks().list(tasklist=lid, maxResults=3)
while req is not None:
    page = req.execute()
    titles += [t["title"] for t in page.get("items", [])]
    req = tasks.tasks().list_next(req, page)
assert titles == order, titles
done = tasks.tasks().patch(tasklist=lid, task=b["id"], body={"status": "completed"}).execute()
assert done["status"] == "completed" and "completed" in done, done
full = tasks.tasks().update(
    tasklist=lid, task=c["id"], body={"id": c["id"], "title": "c2", "due": "2030-01-02T15:00:00Z"}
).execute()
assert full["title"] == "c2" and full["due"] == "2030-01-02T00:00:00.000Z", full
assert [t["title"] for t in tasks.tasks().list(tasklist=lid, showCompleted=False).execute()["items"]] == ["c2", "a", "child"]
tasks.tasks().clear(tasklist=lid).execute()
assert "b" not in [t["title"] for t in tasks.tasks().list(tasklist=lid).execute()["items"]]
hidden = tasks.tasks().list(tasklist=lid, showHidden=True).execute()["items"]
assert [t.get("hidden") for t in hidden if t["title"] == "b"] == [True], hidden
moved = tasks.tasks().move(tasklist=lid, task=c["id"], parent=a["id"]).execute()
assert moved["parent"] == a["id"], moved
other = tasks.tasks().move(tasklist=lid, task=a["id"], destinationTasklist=made[1]["id"]).execute()
assert other["id"] == a["id"]
assert sorted(t["title"] for t in tasks.tasks().list(tasklist=made[1]["id"]).execute()["items"]) == ["a", "c2", "child"]
tasks.tasks().delete(tasklist=made[1]["id"], task=a["id"]).execute()
assert tasks.tasks().list(tasklist=made[1]["id"]).execute()["items"] == []
assert len(tasks.tasks().list(tasklist=made[1]["id"], showDeleted=True).execute()["items"]) == 3
try:
    tasks.tasks().get(tasklist=lid, task="no-such-task").execute()
    raise SystemExit("a missing task was found")
except HttpError as e:
    assert e.resp.status == 404, e
try:
    tasks.tasks().list(tasklist=lid, maxResults=0).execute()
    raise SystemExit("maxResults=0 was accepted")
except HttpError as e:
    assert e.resp.status == 400 and json.loads(e.content)["error"]["status"] == "INVALID_ARGUMENT"

# A token without the tasks scope gets Google's 403.
ro = service_account.Credentials.from_service_account_file(
    key_file, scopes=["https://www.googleapis.com/auth/userinfo.email"]
)
narrow = build("tasks", "v1", credentials=ro, discoveryServiceUrl=url, static_discovery=False)
try:
    narrow.tasklists().list().execute()
    raise SystemExit("a token without the tasks scope was accepted")
except HttpError as e:
    assert e.resp.status == 403 and json.loads(e.content)["error"]["status"] == "PERMISSION_DENIED"

print("ok: discovery and tasks")
