/**
 * The dashboard: checks that this browser is signed in (else the way to sign in), then keeps the
 * fleet's open sessions live through one stream connection and shows the Sessions view (`/`) or
 * one session (`/session/<id>`). The address bar follows the view, so a session can be bookmarked
 * and the back button works.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react"
import { type Alert, alertFor, SeenAlerts } from "./Alerts.js"
import { ComputersView } from "./ComputersView.js"
import { CreateDialog } from "./CreateDialog.js"
import { get, type Outcome } from "./Http.js"
import { ProjectsView } from "./ProjectsView.js"
import { SessionsView } from "./SessionsView.js"
import { SessionView } from "./SessionView.js"
import { type LinkState, StreamLink, streamUrl } from "./Stream.js"
import { Toasts } from "./Toasts.js"
import type { ComputerJson, ProjectJson, SessionJson } from "./Wire.js"

/** Alerts shown at once (older ones make way); alert keys remembered against repeats. */
const ALERTS_SHOWN = 5
const ALERT_KEYS_KEPT = 500

const canNotify = () => typeof Notification !== "undefined"

type Route =
  | { readonly view: "sessions" | "projects" | "computers" }
  | { readonly view: "session"; readonly sessionId: string }

const SESSION_PATH = /^\/session\/([0-9a-fA-F-]{36})$/

const routeOf = (pathname: string): Route => {
  const match = SESSION_PATH.exec(pathname)
  if (match !== null) return { view: "session", sessionId: match[1]!.toLowerCase() }
  return { view: pathname === "/projects" ? "projects" : pathname === "/computers" ? "computers" : "sessions" }
}

const NAV: ReadonlyArray<{ readonly path: string; readonly label: string; readonly view: Route["view"] }> = [
  { path: "/", label: "Sessions", view: "sessions" },
  { path: "/projects", label: "Projects", view: "projects" },
  { path: "/computers", label: "Computers", view: "computers" }
]

type Auth = "checking" | "signedIn" | "signedOut" | "unreachable"

const authOf = (outcome: Outcome<unknown>): Auth =>
  outcome.ok ? "signedIn" : outcome.status === 401 ? "signedOut" : outcome.status === 0 ? "unreachable" : "signedIn"

export const App = () => {
  const [auth, setAuth] = useState<Auth>("checking")
  const [route, setRoute] = useState<Route>(() => routeOf(location.pathname))
  const [sessions, setSessions] = useState<ReadonlyMap<string, SessionJson>>(new Map())
  const [listed, setListed] = useState(false)
  const [projects, setProjects] = useState<ReadonlyArray<ProjectJson>>([])
  const [computers, setComputers] = useState<ReadonlyArray<ComputerJson>>([])
  const [localComputer, setLocalComputer] = useState<string | undefined>(undefined)
  const [linkState, setLinkState] = useState<LinkState>("connecting")
  /** The create dialog, open with the project to preselect (undefined: the first). */
  const [creating, setCreating] = useState<
    { readonly project: string | undefined; readonly computer: string | undefined } | undefined
  >(undefined)
  const link = useMemo(() => new StreamLink(streamUrl()), [])
  const sessionsRef = useRef<ReadonlyMap<string, SessionJson>>(new Map())
  const seen = useMemo(() => new SeenAlerts(ALERT_KEYS_KEPT), [])
  const [alerts, setAlerts] = useState<ReadonlyArray<Alert>>([])
  const [permission, setPermission] = useState(() => (canNotify() ? Notification.permission : "denied"))
  const routeRef = useRef(route)
  routeRef.current = route

  // asked at once; sign-in is decided by the first two, not after the projects (every computer's:
  // one that is slow to answer must not hold the page)
  const check = useCallback(async () => {
    void get<ReadonlyArray<ProjectJson>>("/v1/projects").then((found) => found.ok && setProjects(found.value))
    const [health, list] = await Promise.all([
      get<{ readonly computer: string }>("/health"),
      get<ReadonlyArray<ComputerJson>>("/v1/computers")
    ])
    if (health.ok) setLocalComputer(health.value.computer)
    setAuth(authOf(list))
    if (list.ok) setComputers(list.value)
  }, [])

  useEffect(() => {
    void check()
  }, [check])

  const listedRef = useRef(false)
  /** Shows an alert once: in the page, and as a system notification when allowed and the page is not in front. */
  const raise = (alert: Alert | undefined) => {
    if (alert === undefined || !seen.first(alert.key)) return
    const watching = routeRef.current.view === "session" && routeRef.current.sessionId === alert.sessionId
    if (watching && document.hasFocus()) return
    setAlerts((shown) => [...shown, alert].slice(-ALERTS_SHOWN))
    if (canNotify() && Notification.permission === "granted" && (document.hidden || !document.hasFocus())) {
      try {
        const notification = new Notification(alert.title, { body: alert.body.slice(-200), tag: alert.key })
        notification.onclick = () => {
          window.focus()
          navigate(`/session/${alert.sessionId}`)
        }
      } catch {
        // a browser that shows notifications only from a service worker: the page's alert stays
      }
    }
  }

  /**
   * The stream starts while sign-in is still being checked (the cookie authenticates it, and a
   * refused connection asks whether this browser is signed out): the sessions list is on its way
   * while the page asks the rest, not after.
   */
  const streaming = auth === "checking" || auth === "signedIn"
  useEffect(() => {
    if (!streaming) return
    const unlisten = link.listen({
      state: (state) => {
        setLinkState(state)
        if (state === "signedOut") setAuth("signedOut")
      },
      message: (message) => {
        const before = sessionsRef.current
        let after: Map<string, SessionJson>
        if (message.type === "sessions") {
          after = new Map(message.sessions.map((session) => [session.sessionId, session]))
          // the first list is what is there, not news; a later one (after a reconnect) may be
          if (listedRef.current) {
            for (const session of after.values()) raise(alertFor(before.get(session.sessionId), session))
          }
          listedRef.current = true
          setListed(true)
        } else if (message.type === "session") {
          after = new Map(before)
          if (message.event === "upserted") {
            after.set(message.session.sessionId, message.session)
            raise(alertFor(before.get(message.session.sessionId), message.session))
          } else after.delete(message.sessionId)
        } else return
        sessionsRef.current = after
        setSessions(after)
      }
    })
    link.watchSessions()
    link.start()
    setLinkState(link.state)
    return () => {
      unlisten()
      link.stop()
    }
  }, [streaming, link])

  useEffect(() => {
    const onPop = () => setRoute(routeOf(location.pathname))
    window.addEventListener("popstate", onPop)
    return () => window.removeEventListener("popstate", onPop)
  }, [])

  const navigate = useCallback((path: string) => {
    if (location.pathname !== path) history.pushState(null, "", path)
    setRoute(routeOf(path))
  }, [])

  useEffect(() => {
    // a session looked at is no longer news
    if (route.view === "session") setAlerts((shown) => shown.filter((alert) => alert.sessionId !== route.sessionId))
  }, [route])

  useEffect(() => {
    document.title = alerts.length === 0 ? "telemux" : `(${alerts.length}) telemux`
  }, [alerts.length])

  const openCreate = useCallback((project?: string, computer?: string) => {
    setCreating({ project, computer })
    // the projects may have changed since the page loaded
    void get<ReadonlyArray<ProjectJson>>("/v1/projects").then((found) => found.ok && setProjects(found.value))
    void get<ReadonlyArray<ComputerJson>>("/v1/computers").then((found) => found.ok && setComputers(found.value))
  }, [])

  const signOut = useCallback(async () => {
    await fetch("/v1/web/sign-out", { method: "POST", credentials: "same-origin" }).catch(() => undefined)
    link.stop()
    setAuth("signedOut")
  }, [link])

  if (auth !== "signedIn") return <SignedOut auth={auth} retry={() => void check()} />

  return (
    <div className={`app view-${route.view}`}>
      <header className="top">
        <a
          className="brand"
          href="/"
          onClick={(event) => {
            event.preventDefault()
            navigate("/")
          }}
        >
          telemux
        </a>
        <span className={`link link-${linkState}`} role="status">
          {linkState === "open" ? "live" : "reconnecting…"}
        </span>
        {alerts.length > 0 && <span className="badge">{alerts.length} new</span>}
        <nav className="nav" aria-label="Views">
          {NAV.map((item) => (
            <a
              key={item.path}
              href={item.path}
              aria-current={route.view === item.view ? "page" : undefined}
              onClick={(event) => {
                event.preventDefault()
                navigate(item.path)
              }}
            >
              {item.label}
            </a>
          ))}
        </nav>
        <span className="spacer" />
        {permission === "default" && (
          <button
            type="button"
            onClick={() => void Notification.requestPermission().then((answer) => setPermission(answer))}
          >
            Notify me
          </button>
        )}
        <button type="button" className="primary" onClick={() => openCreate()}>New session</button>
        <button type="button" onClick={() => void signOut()}>Sign out</button>
      </header>
      {route.view === "projects" && <ProjectsView start={(project, computer) => openCreate(project, computer)} />}
      {route.view === "computers" && <ComputersView localComputer={localComputer} />}
      {route.view === "sessions" && (
        <SessionsView
          sessions={sessions}
          listed={listed}
          projects={projects}
          localComputer={localComputer}
          open={(sessionId) => navigate(`/session/${sessionId}`)}
        />
      )}
      {route.view === "session" && (
        <SessionView
          key={route.sessionId}
          link={link}
          linkState={linkState}
          sessionId={route.sessionId}
          live={sessions.get(route.sessionId)}
          computers={computers}
          back={() => navigate("/")}
          started={(session) => {
            setSessions((before) => new Map(before).set(session.sessionId, session))
            navigate(`/session/${session.sessionId}`)
          }}
        />
      )}
      <Toasts
        alerts={alerts}
        dismiss={(key) => setAlerts((shown) => shown.filter((alert) => alert.key !== key))}
        open={(sessionId) => navigate(`/session/${sessionId}`)}
      />
      {creating !== undefined && (
        <CreateDialog
          initialProject={creating.project}
          initialComputer={creating.computer}
          projects={projects}
          computers={computers}
          localComputer={localComputer}
          close={() => setCreating(undefined)}
          created={(session) => {
            setCreating(undefined)
            setSessions((before) => new Map(before).set(session.sessionId, session))
            navigate(`/session/${session.sessionId}`)
          }}
        />
      )}
    </div>
  )
}

const SignedOut = ({ auth, retry }: { readonly auth: Auth; readonly retry: () => void }) => (
  <main className="narrow">
    <h1>telemux</h1>
    {auth === "checking" && <p role="status">Checking whether this browser is signed in…</p>}
    {auth === "unreachable" && (
      <>
        <p role="alert">The daemon cannot be reached; is it running?</p>
        <button type="button" onClick={retry}>Try again</button>
      </>
    )}
    {auth === "signedOut" && (
      <>
        <p role="status">This browser is not signed in.</p>
        <p>
          <a className="button primary" href="/sign-in">Sign in</a>
        </p>
        <p className="hint">
          Run <code>telemux web</code>{" "}
          on the computer running the daemon: it opens a single-use sign-in link. Or paste the API token (<code>
            telemux token
          </code>) on the sign-in page.
        </p>
      </>
    )}
  </main>
)
