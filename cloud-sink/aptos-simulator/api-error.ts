/** An error the simulated node answers with: HTTP status, message, error_code and vm_error_code as a node sends them. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code: string, readonly vmErrorCode?: number) {
    super(message);
  }
}
