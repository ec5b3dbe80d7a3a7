/**
 * A session's Changes: what its git worktree changed against its base (the files with their
 * counts, then the patch with added and removed lines coloured, a marker when the daemon cut it),
 * read again on Refresh; and the ways to finish it, each explicit: commit (with a message), push,
 * merge into the base, discard (asked first, with a "force" choice that says what the salvage ref
 * keeps). Every outcome is said here, where the buttons are.
 */
import { type FormEvent, useCallback, useEffect, useId, useRef, useState } from "react"
import { patchLines } from "./Changes.js"
import { call, get } from "./Http.js"
import type { FinishAction, FinishResultJson, SessionJson, WorktreeDiffJson } from "./Wire.js"

type Said = { readonly text: string; readonly error: boolean } | undefined

const LABEL: Readonly<Record<FinishAction, string>> = {
  commit: "Commit",
  push: "Push",
  merge: "Merge",
  discard: "Discard"
}

const resultText = (result: FinishResultJson): string =>
  [
    result.detail,
    result.commit === null ? "" : `Commit ${result.commit.slice(0, 12)}.`,
    result.salvageRef === null ? "" : `The removed work is kept in ${result.salvageRef}.`
  ].filter((part) => part !== "").join(" ")

export const ChangesView = (props: {
  readonly session: SessionJson
  /**
   * A discard closes the session and removes the worktree, and with it this view: what was done
   * (the salvage ref) is told by the session's view instead.
   */
  readonly onDiscarded?: (text: string) => void
}) => {
  const worktree = props.session.worktree
  const base = `/v1/sessions/${props.session.sessionId}`
  const headingId = useId()
  const [diff, setDiff] = useState<WorktreeDiffJson | undefined>(undefined)
  const [loading, setLoading] = useState(true)
  const [loadError, setLoadError] = useState<string | undefined>(undefined)
  const [message, setMessage] = useState("")
  const [busy, setBusy] = useState(false)
  const [said, setSaid] = useState<Said>(undefined)
  const [discarding, setDiscarding] = useState(false)

  const load = useCallback(async () => {
    setLoading(true)
    const outcome = await get<WorktreeDiffJson>(`${base}/diff`)
    setLoading(false)
    if (outcome.ok) {
      setDiff(outcome.value)
      setLoadError(undefined)
    } else setLoadError(`${outcome.message} (${outcome.tag})`)
  }, [base])

  useEffect(() => {
    void load()
  }, [load])

  const finish = async (action: FinishAction, extra: { readonly message?: string; readonly force?: boolean } = {}) => {
    setBusy(true)
    setSaid({ text: `${LABEL[action]}…`, error: false })
    const outcome = await call<FinishResultJson>("POST", `${base}/worktree`, { action, ...extra })
    setBusy(false)
    if (outcome.ok) {
      const text = `${LABEL[action]}: ${resultText(outcome.value)}`
      setSaid({ text, error: false })
      if (action === "discard") props.onDiscarded?.(text)
      if (action === "commit") setMessage("")
      if (action !== "push" && action !== "discard") void load()
    } else {
      setSaid({ text: `${LABEL[action]} failed: ${outcome.message} (${outcome.tag})`, error: true })
    }
    return outcome.ok
  }

  const commit = (event: FormEvent) => {
    event.preventDefault()
    void finish("commit", message.trim() === "" ? {} : { message: message.trim() })
  }

  if (worktree === undefined) {
    return (
      <section className="changes" aria-labelledby={headingId}>
        <h2 id={headingId}>Changes</h2>
        <p role="status">
          This session runs in no git worktree, so there are no changes to show. Start a session with "Run in a new git
          worktree" in the New session dialog to follow its changes here.
        </p>
      </section>
    )
  }

  const patch = diff?.patch == null ? undefined : patchLines(diff.patch)
  return (
    <section className="changes" aria-labelledby={headingId}>
      <div className="changes-head">
        <h2 id={headingId}>Changes</h2>
        <span className="meta">
          <code>{worktree.branch}</code> against <code>{worktree.base}</code>
        </span>
        <span className="spacer" />
        <button type="button" disabled={loading} onClick={() => void load()}>
          {loading ? "Reading…" : "Refresh"}
        </button>
      </div>
      <div className="finish">
        <form className="commit" onSubmit={commit}>
          <label>
            <span>Commit message</span>
            <input
              type="text"
              value={message}
              placeholder={props.session.agent === null ? "" : "empty: the agent is asked to commit"}
              onChange={(event) => setMessage(event.target.value)}
            />
          </label>
          <button type="submit" disabled={busy || (message.trim() === "" && props.session.agent === null)}>
            Commit
          </button>
        </form>
        <button type="button" disabled={busy} onClick={() => void finish("push")}>Push</button>
        <button type="button" disabled={busy} onClick={() => void finish("merge")}>
          Merge into {worktree.base}
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => setDiscarding(true)}>
          Discard…
        </button>
      </div>
      {said !== undefined && (
        <p className={said.error ? "error" : "said"} role={said.error ? "alert" : "status"}>{said.text}</p>
      )}
      {loadError !== undefined && <p className="error" role="alert">The diff could not be read: {loadError}</p>}
      {diff === undefined
        ? (loadError === undefined && <p role="status">Reading the diff…</p>)
        : (
          <>
            <p className="said">
              {diff.files.length === 0
                ? `No changes against ${diff.base}.`
                : `${diff.files.length} file${
                  diff.files.length === 1 ? "" : "s"
                } changed, +${diff.additions} −${diff.deletions}`}
            </p>
            {diff.files.length > 0 && (
              <ul className="diff-files" aria-label="Changed files">
                {diff.files.map((file) => (
                  <li key={file.path}>
                    <code className="diff-path">
                      {file.oldPath === null ? file.path : `${file.oldPath} → ${file.path}`}
                    </code>
                    {file.additions === null || file.deletions === null
                      ? <span className="diff-count">binary</span>
                      : (
                        <span className="diff-count">
                          <span className="diff-add">+{file.additions}</span>{" "}
                          <span className="diff-del">−{file.deletions}</span>
                        </span>
                      )}
                    <span className="diff-change">{file.change}</span>
                  </li>
                ))}
              </ul>
            )}
            {(diff.truncated || patch?.cut === true) && (
              <p className="notice" role="status">
                Truncated: the diff is larger than shown. The whole of it, in a shell:{" "}
                <code>
                  git -C {worktree.path} diff {diff.mergeBase}
                </code>{" "}
                (or <code>telemux diff {props.session.sessionId.slice(0, 8)}</code>)
              </p>
            )}
            {patch !== undefined && patch.lines.length > 0 && (
              <pre className="patch" aria-label="Patch" tabIndex={0}>
                {patch.lines.map((line, i) => (
                  <span key={i} className={`patch-${line.kind}`}>
                    {line.text}
                    {"\n"}
                  </span>
                ))}
              </pre>
            )}
          </>
        )}
      {discarding && (
        <DiscardDialog
          path={worktree.path}
          branch={worktree.branch}
          createdBranch={worktree.createdBranch}
          cancel={() => setDiscarding(false)}
          accept={async (force) => {
            setDiscarding(false)
            if (await finish("discard", force ? { force: true } : {})) setDiff(undefined)
          }}
        />
      )}
    </section>
  )
}

/** The question before Discard, with the "force" choice and what it costs. */
const DiscardDialog = (props: {
  readonly path: string
  readonly branch: string
  readonly createdBranch: boolean
  readonly accept: (force: boolean) => void
  readonly cancel: () => void
}) => {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  const bodyId = useId()
  const [force, setForce] = useState(false)
  useEffect(() => {
    const dialog = ref.current
    if (dialog !== null && !dialog.open) dialog.showModal()
  }, [])
  return (
    <dialog
      ref={ref}
      role="alertdialog"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      onCancel={(event) => {
        event.preventDefault()
        props.cancel()
      }}
    >
      <h2 id={titleId}>Discard this worktree?</h2>
      <p id={bodyId}>
        The worktree at <code>{props.path}</code> is removed{props.createdBranch
          ? (
            <>
              , and the branch <code>{props.branch}</code> telemux made for it
            </>
          )
          : (
            <>
              ; the branch <code>{props.branch}</code> stays
            </>
          )}. With uncommitted changes or unpushed commits it is refused, unless forced.
      </p>
      <label className="choice">
        <input type="checkbox" checked={force} onChange={(event) => setForce(event.target.checked)} />
        Force: remove it even with uncommitted or unpushed work (a salvage ref, refs/telemux/salvage/…, keeps that work
        so it can be brought back)
      </label>
      <div className="actions">
        <button type="button" onClick={props.cancel} autoFocus>Cancel</button>
        <button type="button" className="danger" onClick={() => props.accept(force)}>
          {force ? "Force discard" : "Discard"}
        </button>
      </div>
    </dialog>
  )
}
