/**
 * The sign-in page: a code from `telemux web` arrives in the URL's fragment (`#code=…`), which a
 * browser never sends to a server. It is taken out of the address bar and history at once, then
 * posted (once) for the session cookie. Without one, the API token can be pasted into the form.
 */
import { post } from "./api.js"

const message = document.getElementById("message")!
const form = document.getElementById("token-form") as HTMLFormElement
const input = document.getElementById("token") as HTMLInputElement

const show = (text: string, error: boolean) => {
  message.textContent = text
  message.className = error ? "error" : ""
}

const signedIn = () => location.replace("/")

const code = new URLSearchParams(location.hash.slice(1)).get("code")
if (code !== null) {
  history.replaceState(null, "", location.pathname)
  show("Signing in…", false)
  void post("/v1/web/sign-in", { code }).then((outcome) => (outcome.ok ? signedIn() : show(outcome.message, true)))
}

form.addEventListener("submit", (event) => {
  event.preventDefault()
  show("Signing in…", false)
  void post("/v1/web/sign-in", { token: input.value.trim() }).then((outcome) => {
    input.value = ""
    if (outcome.ok) signedIn()
    else show(outcome.message, true)
  })
})
