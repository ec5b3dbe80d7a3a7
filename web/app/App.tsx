/**
 * The dashboard: checks that this browser is signed in (else the way to sign in), then keeps the
 * fleet's open sessions live through one stream connection and shows the Sessions view (`/`) or
 * one session (`/session/<id>`). The address bar follows the view, so a session can be bookmarked
 * and the back button works.
 */
import { useCallback, useEffect, useMemo, useState } from "react"
import { CreateDialog } from "./CreateDialog.js"
import { get, type Outcome } from "./Http.js"
import { SessionsView } from "./SessionsView.js"
import { SessionView } from "./SessionView.js"
import { type LinkState, StreamLink, streamUrl } from "./Stream.js"
import type { ComputerJson, ProjectJson, SessionJson } from "./Wire.js"

type Route = { readonly view: "sessions" } | { readonly view: "session"; readonly sessionId: string }

const SESSION_PATH = /^\/session\/([0-9a-fA-F-]{36})$/

const routeOf = (pathname: string): Route => {
  const match = SESSION_PATH.exec(pathname)
  return match === null ? { view: "sessions" } : { view: "session", sessionId: match[1]!.toLowerCase() }
}

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
  const [creating, setCreating] = useState(false)
  const link = useMemo(() => new StreamLink(streamUrl()), [])

  const check = useCallback(async () => {
    const health = await get<{ readonly computer: string }>("/health")
    if (health.ok) setLocalComputer(health.value.computer)
    const list = await get<ReadonlyArray<ComputerJson>>("/v1/computers")
    setAuth(authOf(list))
    if (list.ok) setComputers(list.value)
    const found = await get<ReadonlyArray<ProjectJson>>("/v1/projects")
    if (found.ok) setProjects(found.value)
  }, [])

  useEffect(() => {
    void check()
  }, [check])

  useEffect(() => {
    if (auth !== "signedIn") return
    const unlisten = link.listen({
      state: (state) => {
        setLinkState(state)
        if (state === "signedOut") setAuth("signedOut")
      },
      message: (message) => {
        if (message.type === "sessions") {
          setSessions(new Map(message.sessions.map((session) => [session.sessionId, session])))
          setListed(true)
        } else if (message.type === "session") {
          setSessions((before) => {
            const after = new Map(before)
            if (message.event === "upserted") after.set(message.session.sessionId, message.session)
            else after.delete(message.sessionId)
            return after
          })
        }
      }
    })
    link.watchSessions()
    link.start()
    setLinkState(link.state)
    return () => {
      unlisten()
      link.stop()
    }
  }, [auth, link])

  useEffect(() => {
    const onPop = () => setRoute(routeOf(location.pathname))
    window.addEventListener("popstate", onPop)
    return () => window.removeEventListener("popstate", onPop)
  }, [])

  const navigate = useCallback((path: string) => {
    if (location.pathname !== path) history.pushState(null, "", path)
    setRoute(routeOf(path))
  }, [])

  const openCreate = useCallback(() => {
    setCreating(true)
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
    <div className="app">
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
        <span className="spacer" />
        <button type="button" className="primary" onClick={openCreate}>New session</button>
        <button type="button" onClick={() => void signOut()}>Sign out</button>
      </header>
      {route.view === "sessions"
        ? (
          <SessionsView
            sessions={sessions}
            listed={listed}
            projects={projects}
            localComputer={localComputer}
            open={(sessionId) => navigate(`/session/${sessionId}`)}
          />
        )
        : (
          <SessionView
            key={route.sessionId}
            link={link}
            linkState={linkState}
            sessionId={route.sessionId}
            live={sessions.get(route.sessionId)}
            back={() => navigate("/")}
          />
        )}
      {creating && (
        <CreateDialog
          projects={projects}
          computers={computers}
          localComputer={localComputer}
          close={() => setCreating(false)}
          created={(session) => {
            setCreating(false)
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
