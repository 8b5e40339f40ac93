// Sign in, or create an account; both end signed in, on the page the user was sent away from.
import { useMutation } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { auth, client, signIn } from "../api/client";
import { queryClient } from "../api/queries";
import { useStore } from "../api/store";
import { Field, Form, type FormErrors, toFormErrors } from "../components/form";

export function SignInPage({ mode }: { mode: "sign-in" | "register" }) {
  const navigate = useNavigate();
  const location = useLocation();
  const { reason } = useStore(auth);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [errors, setErrors] = useState<FormErrors | null>(null);
  const next = (location.state as { from?: string } | null)?.from ?? "/sessions";
  const registering = mode === "register";
  const title = registering ? "Create your account" : "Sign in to Mimic";

  useEffect(() => {
    document.title = `${registering ? "Create an account" : "Sign in"} · Mimic`;
    setErrors(null);
  }, [registering]);

  const submit = useMutation({
    mutationFn: async () => {
      if (registering) {
        const registration = await client.auth.register({ email, password, ...(name ? { name } : {}) });
        return registration.access_token;
      }
      return (await client.auth.login({ email, password })).access_token;
    },
    onSuccess: (token) => {
      queryClient.clear();
      signIn(token);
      navigate(next, { replace: true });
    },
    onError: (error) => setErrors(toFormErrors(error)),
  });

  return (
    <main id="main" className="auth-page">
      <div className="auth-card">
        <p className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">M</span>
          <span className="brand-name">Mimic</span>
        </p>
        <h1>{title}</h1>
        {reason === "expired" && !errors && (
          <output className="alert alert-info">Your session has ended. Sign in again to continue.</output>
        )}
        <Form label={title} errors={errors} onSubmit={() => submit.mutate()}>
          {registering && (
            <Field name="name" label="Name (optional)">
              {(props) => (
                <input
                  {...props}
                  autoComplete="name"
                  value={name}
                  onChange={(e) => setName(e.target.value)}
                />
              )}
            </Field>
          )}
          <Field name="email" label="Email">
            {(props) => (
              <input
                {...props}
                type="email"
                autoComplete="email"
                required
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            )}
          </Field>
          <Field
            name="password"
            label="Password"
            hint={registering ? "At least 10 characters; a few unrelated words work well." : undefined}
          >
            {(props) => (
              <input
                {...props}
                type="password"
                autoComplete={registering ? "new-password" : "current-password"}
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            )}
          </Field>
          <button type="submit" className="button button-primary button-wide" disabled={submit.isPending}>
            {submit.isPending ? "Please wait…" : registering ? "Create account" : "Sign in"}
          </button>
        </Form>
        <p className="auth-switch">
          {registering ? (
            <>
              Have an account? <Link to="/sign-in">Sign in</Link>
            </>
          ) : (
            <>
              New to Mimic? <Link to="/register">Create an account</Link>
            </>
          )}
        </p>
      </div>
    </main>
  );
}
