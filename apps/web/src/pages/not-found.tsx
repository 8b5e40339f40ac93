import { Link } from "react-router";
import { Page } from "../components/layout";

export function NotFoundPage() {
  return (
    <Page title="Page not found">
      <p>
        There is no page here. <Link to="/sessions">Go to your sessions</Link>.
      </p>
    </Page>
  );
}
