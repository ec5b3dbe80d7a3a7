/** Alerts shown in the page (a polite live region, so a screen reader reads them), each with a link to its session. */
import type { Alert } from "./Alerts.js"

export const Toasts = (
  { alerts, dismiss, open }: {
    readonly alerts: ReadonlyArray<Alert>
    readonly dismiss: (key: string) => void
    readonly open: (sessionId: string) => void
  }
) => (
  <section className="toasts" aria-label="Alerts" aria-live="polite">
    {alerts.map((alert) => (
      <div className="toast" key={alert.key}>
        <a
          href={`/session/${alert.sessionId}`}
          onClick={(event) => {
            event.preventDefault()
            open(alert.sessionId)
          }}
        >
          {alert.title}
        </a>
        {alert.body !== "" && <span className="toast-body">{alert.body.slice(-140)}</span>}
        <button type="button" aria-label={`Dismiss: ${alert.title}`} onClick={() => dismiss(alert.key)}>×</button>
      </div>
    ))}
  </section>
)
