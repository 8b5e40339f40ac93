// API keys for CI: create one (its secret is shown once, here, never again) and revoke the ones you no longer use.
import type { ApiKey, CreatedApiKey } from "@mimic/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { client } from "../api/client";
import { ConfirmDialog, Empty, ErrorMessage, Loading } from "../components/bits";
import { Field, Form, type FormErrors, numberOrUndefined, toFormErrors } from "../components/form";
import { Page } from "../components/layout";
import { formatDateTime } from "../lib/format";

export function ApiKeysPage() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["apiKeys"], queryFn: () => client.apiKeys.list({ limit: 100 }) });
  const [name, setName] = useState("");
  const [expires, setExpires] = useState("");
  const [errors, setErrors] = useState<FormErrors | null>(null);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  const create = useMutation({
    mutationFn: () => {
      const expiresInDays = numberOrUndefined(expires);
      return client.apiKeys.create({ name, ...(expiresInDays !== undefined ? { expiresInDays } : {}) });
    },
    onSuccess: (key) => {
      setCreated(key);
      setErrors(null);
      setName("");
      setExpires("");
      void queryClient.invalidateQueries({ queryKey: ["apiKeys"] });
    },
    onError: (error) => setErrors(toFormErrors(error)),
  });
  const revoke = useMutation({
    mutationFn: (key: ApiKey) => client.apiKeys.revoke(key.id),
    onSuccess: () => {
      setRevoking(null);
      void queryClient.invalidateQueries({ queryKey: ["apiKeys"] });
    },
  });

  return (
    <Page title="API keys" description="Long-lived keys for CI and scripts: send one as a Bearer token.">
      {created && <NewKey created={created} onDone={() => setCreated(null)} />}
      <section className="panel" aria-labelledby="new-key-title">
        <h2 id="new-key-title">Create a key</h2>
        <Form
          label="Create a key"
          errors={errors}
          onSubmit={() => create.mutate()}
          className="form form-inline"
        >
          <Field name="name" label="Name" hint="What it is for, e.g. github-actions.">
            {(props) => <input {...props} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field name="expiresInDays" label="Expires in days (optional)">
            {(props) => (
              <input
                {...props}
                inputMode="numeric"
                className="input-short"
                value={expires}
                onChange={(e) => setExpires(e.target.value)}
              />
            )}
          </Field>
          <button type="submit" className="button button-primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create key"}
          </button>
        </Form>
      </section>

      <section className="panel" aria-labelledby="keys-title">
        <h2 id="keys-title">Your keys</h2>
        {keys.isPending ? (
          <Loading />
        ) : keys.isError ? (
          <ErrorMessage error={keys.error} retry={() => keys.refetch()} />
        ) : keys.data.data.length === 0 ? (
          <Empty>No keys yet.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.data.map((key) => (
                  <tr key={key.id}>
                    <td>{key.name}</td>
                    <td>
                      <code>{key.prefix}…</code>
                    </td>
                    <td>{formatDateTime(key.createdAt)}</td>
                    <td>{key.lastUsedAt ? formatDateTime(key.lastUsedAt) : "Never"}</td>
                    <td>{key.expiresAt ? formatDateTime(key.expiresAt) : "Never"}</td>
                    <td className="row-actions">
                      <button
                        type="button"
                        className="button button-small button-danger-quiet"
                        onClick={() => setRevoking(key)}
                      >
                        Revoke<span className="visually-hidden"> {key.name}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? "key"}?`}
        confirmLabel={revoke.isPending ? "Revoking…" : "Revoke key"}
        busy={revoke.isPending}
        onConfirm={() => revoking && revoke.mutate(revoking)}
        onCancel={() => setRevoking(null)}
      >
        <p>It stops working at once, wherever it is used.</p>
        {revoke.isError && <ErrorMessage error={revoke.error} />}
      </ConfirmDialog>
    </Page>
  );
}

function NewKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [copied, setCopied] = useState(false);
  useEffect(() => ref.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="alert alert-success new-key" role="alert" tabIndex={-1} ref={ref}>
      <p className="alert-title">Key “{created.name}” created. Copy it now: it will not be shown again.</p>
      <p>
        <code className="secret">{created.key}</code>
      </p>
      <div className="form-actions">
        <button type="button" className="button" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" className="button button-quiet" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
