/** The fleet's computers: online or not, when last seen, CPU, memory and disk, and this computer's link to the fleet. */
import { useEffect, useState } from "react"
import { age } from "./Fleet.js"
import { get } from "./Http.js"
import { useNow } from "./useNow.js"
import type { ComputerJson } from "./Wire.js"

const REFRESH_MS = 10_000

const percent = (value: number) => `${Math.round(value)} %`

export const ComputersView = ({ localComputer }: { readonly localComputer: string | undefined }) => {
  const [computers, setComputers] = useState<ReadonlyArray<ComputerJson> | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const now = useNow(1000)

  useEffect(() => {
    const load = () =>
      void get<ReadonlyArray<ComputerJson>>("/v1/computers").then((outcome) => {
        if (outcome.ok) {
          setComputers(outcome.value)
          setError(undefined)
        } else setError(outcome.message)
      })
    load()
    const timer = window.setInterval(load, REFRESH_MS)
    return () => window.clearInterval(timer)
  }, [])

  return (
    <main className="listing">
      <h1>Computers</h1>
      {error !== undefined && <p role="alert" className="error">{error}</p>}
      {computers === undefined && error === undefined && <p role="status">Loading computers…</p>}
      {computers?.map((computer) => (
        <section key={computer.name} className="card" aria-label={`Computer ${computer.name}`}>
          <div className="card-head">
            <h2>{computer.name}{computer.name === localComputer ? " (this one)" : ""}</h2>
            <span className={`status ${computer.online ? "status-running" : "status-closed"}`}>
              {computer.online ? "online" : "offline"}
            </span>
            <span className="meta">
              {computer.user}@{computer.host} · {computer.role} · telemux {computer.version} · seen{" "}
              {age(computer.lastSeenAt, now)} ago
            </span>
          </div>
          {computer.stats === null ? <p className="hint">No figures yet.</p> : (
            <dl className="stats">
              <div>
                <dt>CPU</dt>
                <dd>{percent(computer.stats.cpuPercent)}</dd>
              </div>
              <div>
                <dt>Memory</dt>
                <dd>
                  {percent(computer.stats.memory.percentUsed)} of {computer.stats.memory.totalGb.toFixed(1)} GB
                </dd>
              </div>
              {computer.stats.disk !== null && (
                <div>
                  <dt>Disk</dt>
                  <dd>
                    {percent(computer.stats.disk.percentUsed)} of {computer.stats.disk.totalGb.toFixed(0)} GB
                  </dd>
                </div>
              )}
            </dl>
          )}
          {computer.link !== undefined && (
            <p className="hint">
              Fleet link: {computer.link === null
                ? "none (no Redis configured: this computer works alone)"
                : `${computer.link.state}${computer.link.lastError === null ? "" : ` — ${computer.link.lastError}`}`}
            </p>
          )}
        </section>
      ))}
    </main>
  )
}
