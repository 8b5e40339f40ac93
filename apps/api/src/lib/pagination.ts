export interface Page {
  page: number;
  limit: number;
}

export function paginated<T>(data: T[], total: number, { page, limit }: Page) {
  return { data, pagination: { page, limit, total, pages: Math.ceil(total / limit) } };
}

export const offsetOf = ({ page, limit }: Page) => (page - 1) * limit;
