import { STATUS_LABEL } from "./Fleet.js"
import type { SessionStatus } from "./Wire.js"

/** A status in colour and in words (colour alone would say nothing to a screen reader or a colour-blind eye). */
export const StatusBadge = ({ status }: { readonly status: SessionStatus }) => (
  <span className={`status status-${status}`}>{STATUS_LABEL[status]}</span>
)
